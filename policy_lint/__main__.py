from policy_lint.cli import main

main()
