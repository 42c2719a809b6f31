"""Semantics shared by the dialects; nothing here knows a particular device.

- `base`: what a dialect module provides (NAME, FILE_PATTERNS, detect, parse), the `Ruleset`
  protocol the engine evaluates, and the `ParseContext` a parser receives.
- `addressing`: destination addresses of probes and per-prefix coverage of a service's
  networks (`decide_by_address`), for every dialect that matches addresses.
- `chains`: `ChainResult`, what walking a firewall chain yields.
- `answers`: what answering a name with an address does (one rule for every DNS dialect).
- `names`: `DomainIndex` (exact names and subtrees) and `NameRuleset` for name-only filters.
- `listscan`: streaming scans of million-line list files.
- `listnames`: what a missing list probably holds, judged by its published category name.
- `patterns`: regular expressions from configs, evaluated with a time bound.
- `detection`: helpers for `detect(path, head)` (files that only quote configs are not configs).
- `batch`: Windows batch files read as cmd.exe reads them (caret continuations, comments).
- `answers`: one rule for DNS answers (sinkhole, pin to the service, pin to an unknown address).
- `tunnels`: the ports local proxies and tunnels listen on (PAC and Privoxy forwarding).
- `setfills`: firewall sets a DNS forwarder fills with the addresses of names it resolves
  (dnsmasq `ipset=`/`nftset=`, unbound's ipset module), matched by name.
- `terraform`: Terraform/HCL files (python-hcl2) as blocks with lines, literal variables and
  symbolic values, for the dialects that read a provider's resources.
"""
