"""The claim file: validated, tolerant of SPEC's commented example, errors name the key."""
import json

import pytest

from audit.claim import load_claim, parse_claim
from audit.errors import InputError


def test_spec_example_with_comments_parses(tmp_path):
    text = """{"title": "Agent A17 - Customer Service Champion, Q3",
     "type": "best_unit",            // "level" | "best_unit" | "change" | "benchmark"
     "metric": "top2box",            // "top2box" | "mean" | "nps"
     "scale": [1, 5],
     "value": 0.95,                  // the number that was published, if any
     "unit_column": "agent_id", "unit": "A17"}"""
    path = tmp_path / "claim.json"
    path.write_text(text)
    claim = load_claim(path)
    assert (claim.type, claim.unit, claim.value, claim.scale) == ("best_unit", "A17", 0.95, (1.0, 5.0))


def test_url_inside_a_string_is_not_a_comment():
    claim = load_claim(json.dumps({"title": "see https://example.com//x", "value": 0.9}).encode())
    assert claim.title == "see https://example.com//x"


def test_top2box_value_given_as_percent_becomes_a_share():
    assert parse_claim({"metric": "top2box", "value": 95}).with_defaults((1, 5)).value == pytest.approx(0.95)


def test_percentage_without_metric_is_normalised_once_the_metric_is_known():
    claim = parse_claim({"type": "benchmark", "benchmark": 85, "value": 92.4}).with_defaults((1, 5))
    assert (claim.benchmark, claim.value) == pytest.approx((0.85, 0.924))


def test_published_change_in_points_becomes_a_share_difference():
    claim = parse_claim({"type": "change", "period_column": "p", "before": "a", "after": "b", "value": -3})
    assert claim.with_defaults((1, 5)).value == pytest.approx(-0.03)


def test_impossible_share_is_an_input_error():
    with pytest.raises(InputError, match="impossible"):
        parse_claim({"value": 250}).with_defaults((1, 5))


def test_nps_claim_without_scale_is_on_zero_to_ten():
    assert parse_claim({"metric": "nps"}).scale == (0.0, 10.0)


def test_unknown_type_names_the_key():
    with pytest.raises(InputError, match="column 'type'"):
        parse_claim({"type": "bestest"})


def test_change_claim_requires_periods():
    with pytest.raises(InputError, match="period_column"):
        parse_claim({"type": "change"})


def test_nps_on_a_five_point_scale_is_rejected():
    with pytest.raises(InputError, match="0-10"):
        parse_claim({"metric": "nps", "scale": [1, 5]})


def test_invalid_json_reports_the_line(tmp_path):
    path = tmp_path / "claim.json"
    path.write_text('{\n "value": 0.9,\n oops\n}')
    with pytest.raises(InputError) as info:
        load_claim(path)
    assert "claim.json, row 3" in str(info.value)


def test_no_claim_defaults_to_a_level_claim_with_metric_from_scale():
    assert parse_claim(None).with_defaults((0, 10)).metric == "nps"
    assert parse_claim(None).with_defaults((1, 5)).metric == "top2box"
