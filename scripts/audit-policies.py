"""Runs the IAM auditor parliament (pinned in scripts/requirements.txt), with its community
auditors, on each policy document given, and prints every finding as JSON: file -> [{issue,
detail, location}]. The tests decide which findings fail them (tests/infra/audit.rs).

    audit-policies.py POLICY.json...
"""
import json
import sys

from parliament import analyze_policy_string

findings = {}
for path in sys.argv[1:]:
    with open(path) as f:
        policy = analyze_policy_string(f.read(), include_community_auditors=True)
    findings[path] = [{"issue": x.issue, "detail": x.detail, "location": x.location} for x in policy.findings]
print(json.dumps(findings, default=str, indent=2))
