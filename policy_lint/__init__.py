"""policy-lint: does this network block the social platforms our people use?"""

__version__ = "0.1.0"
