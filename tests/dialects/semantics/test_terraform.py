"""The shared Terraform reader: blocks with their lines, literal variables, symbolic values."""

from __future__ import annotations

import pytest

from policy_lint.dialects.semantics import terraform

MODULE = """\
variable "lan" {
  default = "10.1.0.0/16"
}
variable "wan" {}
locals {
  apps = ["facebook-base"]
}
resource "panos_security_rule_group" "office" {
  rule {
    name         = "deny fb"
    source       = ["${var.lan}", "${var.wan}"]
    applications = "${local.apps}"
    action       = "deny"
  }
}
resource "fortios_firewall_policy" "p1" {
  name = "lan-${var.lan}"
}
"""


@pytest.fixture
def module() -> terraform.TerraformFile:
    return terraform.load(MODULE.splitlines())


def test_blocks_carry_their_labels_and_lines(module: terraform.TerraformFile) -> None:
    kinds = [(block.kind, block.labels, block.line, block.end_line) for block in module.blocks]
    assert kinds == [
        ("variable", ("lan",), 1, 3),
        ("variable", ("wan",), 4, 4),
        ("locals", (), 5, 7),
        ("resource", ("panos_security_rule_group", "office"), 8, 15),
        ("resource", ("fortios_firewall_policy", "p1"), 16, 18),
    ]
    assert [b.labels[1] for b in module.resources("fortios_firewall_policy")] == ["p1"]


def test_literal_defaults_resolve_and_the_rest_stays_symbolic(module: terraform.TerraformFile) -> None:
    rule = terraform.nested(next(module.resources("panos_security_rule_group")).body, "rule")[0]
    assert module.resolve(rule["source"]) == ["10.1.0.0/16", terraform.Symbolic("${var.wan}")]
    assert module.resolve(rule["applications"]) == ["facebook-base"]
    policy = next(module.resources("fortios_firewall_policy")).body
    assert module.resolve(policy["name"]) == "lan-10.1.0.0/16"
    assert module.resolve("${upper(var.lan)}") == terraform.Symbolic("${upper(var.lan)}")


def test_attribute_lines_point_into_the_block(module: terraform.TerraformFile) -> None:
    block = next(module.resources("panos_security_rule_group"))
    rule = terraform.nested(block.body, "rule")[0]
    assert module.attribute_line(rule, "action", block.line) == 13
    assert module.attribute_line(rule, "name", block.line) == 10


def test_text_that_is_not_hcl_is_one_error() -> None:
    with pytest.raises(terraform.TerraformError, match="line 2"):
        terraform.load(['resource "x" {'])
