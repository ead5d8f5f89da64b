"""PSI, KS and the verdict rule, on samples whose answers are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robotops.config import MonitorSettings
from robotops.monitor.drift import (
    EPSILON,
    FeatureDrift,
    Status,
    categorical_psi,
    compare_categorical,
    compare_numeric,
    psi,
    psi_from_shares,
    quantile_edges,
)

UNIFORM = np.arange(1000.0)  # quartiles at 249.75, 499.5, 749.25


def test_quantile_edges_split_the_reference_evenly_and_merge_repeats() -> None:
    assert quantile_edges(UNIFORM, 4).tolist() == [249.75, 499.5, 749.25]
    assert quantile_edges(np.ones(50), 10).tolist() == [1.0]  # one value: one edge


def test_psi_of_a_sample_against_itself_is_zero() -> None:
    assert psi(UNIFORM, UNIFORM, bins=10) == pytest.approx(0.0, abs=1e-12)


def test_psi_matches_the_formula_by_hand() -> None:
    # Log shares 40/30/20/10% over the reference's quartile bins (25% each):
    # sum((o - r) * ln(o / r)) = .15 ln 1.6 + .05 ln 1.2 - .05 ln .8 - .15 ln .4
    log = np.repeat([100.0, 300.0, 600.0, 900.0], [40, 30, 20, 10])
    expected = (
        0.15 * math.log(1.6) + 0.05 * math.log(1.2) - 0.05 * math.log(0.8) - 0.15 * math.log(0.4)
    )
    assert expected == pytest.approx(0.2282175, abs=1e-7)
    assert psi(UNIFORM, log, bins=4) == pytest.approx(expected, rel=1e-9)


def test_an_empty_bin_counts_as_epsilon() -> None:
    everything_low = np.zeros(100)  # all in the first quartile bin, none in the other three
    expected = 0.75 * math.log(1 / 0.25) + 3 * (EPSILON - 0.25) * math.log(EPSILON / 0.25)
    assert psi(UNIFORM, everything_low, bins=4) == pytest.approx(expected, rel=1e-9)
    assert psi_from_shares(np.array([0.5, 0.5, 0.0]), np.array([0.5, 0.5, 0.0])) == 0.0


def test_categorical_psi_by_hand_ignores_unknown_categories() -> None:
    reference = ["glass"] * 50 + ["wood"] * 50
    log = ["glass"] * 80 + ["wood"] * 20 + ["cat"] * 7
    expected = 0.3 * math.log(1.6) + 0.3 * math.log(1 / 0.4)
    assert categorical_psi(reference, log, ["glass", "wood"]) == pytest.approx(expected)


def test_a_shifted_distribution_alerts_with_psi_and_ks() -> None:
    reference = np.linspace(0.0, 1.0, 200)
    drifted = compare_numeric("brightness", reference, reference - 0.5, MonitorSettings())
    assert drifted.status is Status.ALERT
    assert drifted.ks_statistic == pytest.approx(0.5, abs=0.01)
    assert drifted.pvalue < 1e-10
    assert drifted.reason.startswith("PSI ") and "KS 0.50 >= 0.2" in drifted.reason
    assert drifted.reference_mean == pytest.approx(0.5)
    assert drifted.log_mean == pytest.approx(0.0)
    assert drifted.reference_range == pytest.approx((0.01, 0.99))
    same = compare_numeric("brightness", reference, reference, MonitorSettings())
    assert (same.status, same.psi, same.ks_statistic, same.pvalue) == (Status.OK, 0.0, 0.0, 1.0)


def test_a_large_psi_from_few_rows_warns_but_does_not_alert() -> None:
    """Eight values, two in each of four of ten bins: PSI is huge, the KS test shrugs."""
    log = np.array([0.02, 0.04, 0.32, 0.34, 0.62, 0.64, 0.92, 0.94])
    result = compare_numeric("x", np.linspace(0, 1, 101), log, MonitorSettings(min_rows=5))
    assert result.psi > 1.0 and result.pvalue > 0.5
    assert result.status is Status.WARN
    assert "not significant" in result.reason


def test_a_tiny_but_significant_shift_in_a_large_log_stays_ok() -> None:
    rng = np.random.default_rng(0)
    reference, log = rng.uniform(0, 1, 200_000), rng.uniform(0.01, 1.01, 200_000)
    result = compare_numeric("x", reference, log, MonitorSettings())
    assert result.pvalue < 1e-10  # significant ...
    assert result.ks_statistic < 0.05 and result.psi < 0.01  # ... but small
    assert result.status is Status.OK


def test_ks_catches_what_quantile_bins_cannot_see() -> None:
    """A constant reference has one bin edge; a log below it shares its bin, PSI stays 0."""
    result = compare_numeric("depth_valid", np.ones(100), np.full(50, 0.5), MonitorSettings())
    assert result.psi == 0.0
    assert result.ks_statistic == 1.0
    assert result.status is Status.ALERT


def test_missing_values_and_small_samples_give_no_verdict() -> None:
    settings = MonitorSettings(min_rows=30)
    reference = np.linspace(0, 1, 100)
    no_depth = compare_numeric("depth_valid", reference, np.full(40, np.nan), settings)
    assert no_depth.status is Status.SKIPPED
    assert no_depth.reason == "no logged frame has depth_valid (of 40)"
    assert no_depth.psi is None and no_depth.log_rows == 0
    few = compare_numeric("depth_valid", reference, np.r_[np.full(10, 0.5), np.nan], settings)
    assert few.status is Status.SKIPPED
    assert few.reason == "10 logged frames with depth_valid, fewer than min_rows 30"
    nothing = compare_numeric("lidar_returns", np.full(5, np.nan), reference, settings)
    assert nothing.reason == "no reference frame has lidar_returns (of 5)"


def test_class_mix_alerts_on_a_significant_shift_and_keeps_its_shares() -> None:
    classes = ("glass_door", "wooden_door", "no_door")
    reference = ["glass_door"] * 40 + ["wooden_door"] * 40 + ["no_door"] * 40
    log = ["no_door"] * 90 + ["glass_door"] * 10
    result = compare_categorical("class_mix", reference, log, classes, MonitorSettings())
    assert result.status is Status.ALERT
    assert "chi-square p" in result.reason
    assert result.histogram is not None
    assert result.histogram.edges == classes
    assert result.histogram.log == pytest.approx((0.1, 0.0, 0.9))
    same = compare_categorical("class_mix", reference, reference, classes, MonitorSettings())
    assert same.status is Status.OK and same.pvalue == pytest.approx(1.0)
    one = compare_categorical(
        "class_mix", ["no_door"] * 50, ["no_door"] * 50, classes, MonitorSettings()
    )
    assert one.pvalue == 1.0 and one.status is Status.OK


def test_a_feature_survives_json() -> None:
    reference = np.linspace(0.0, 1.0, 60)
    result = compare_numeric("confidence", reference, reference**2, MonitorSettings())
    assert FeatureDrift.from_dict(result.to_dict()) == result
    assert result.to_dict()["status"] == str(result.status)
