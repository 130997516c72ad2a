"""The feature registry: names, headers, defaults and the one true/false grammar."""

from __future__ import annotations

import pytest

from smtpeter.features import (
    BUILT_IN,
    FEATURES,
    FlagError,
    discover,
    featureSpec,
    installedSpecs,
    knownFeatures,
    parseFlag,
)


@pytest.mark.parametrize("word", ["true", "YES", " on ", "1", "True"])
def test_the_true_words(word):
    assert parseFlag(word) is True


@pytest.mark.parametrize("word", ["false", "No", "OFF", "0", " false\t"])
def test_the_false_words(word):
    assert parseFlag(word) is False


@pytest.mark.parametrize("word", ["maybe", "", "2", "truee", "y", "hosted"])
def test_anything_else_is_refused_with_the_words_to_use(word):
    with pytest.raises(FlagError) as raised:
        parseFlag(word)
    assert f"{word!r} is not true or false" in str(raised.value)
    assert "true, yes, on, 1 or false, no, off, 0" in str(raised.value)


def test_a_long_bad_value_is_cut_in_the_answer():
    with pytest.raises(FlagError) as raised:
        parseFlag("x" * 5000)
    assert len(str(raised.value)) < 300


def test_each_built_in_feature_has_its_header_and_is_off_by_default():
    headers = {spec.name: spec.header for spec in BUILT_IN}
    assert headers == {
        "trackclicks": "x-smtpeter-trackclicks",
        "trackopens": "x-smtpeter-trackopens",
        "trackbounces": "x-smtpeter-trackbounces",
        "preventscam": "x-smtpeter-preventscam",
        "inlinecss": "x-smtpeter-inlinecss",
        "unsubscribe": "x-smtpeter-unsubscribe",
        "hostedimages": "x-smtpeter-images",
    }
    assert FEATURES == tuple(headers)
    assert not any(spec.default for spec in BUILT_IN)


def test_images_takes_its_own_words_default_and_the_flag_words():
    images = featureSpec("hostedimages")
    assert images.option == "images"
    assert images.read("Hosted") is True and images.read("inline") is False
    assert images.read("default") is images.default is False
    assert images.read("yes") is True
    with pytest.raises(ValueError, match="use 'hosted', 'inline' or 'default'"):
        images.read("maybe")


def test_a_plain_feature_reads_the_flag_grammar_only():
    clicks = featureSpec("trackclicks")
    assert clicks.read("on") is True
    with pytest.raises(FlagError):
        clicks.read("default")


def test_a_plugins_feature_gets_the_usual_header():
    spec = featureSpec("footer")
    assert spec.header == "x-smtpeter-footer" and spec.option == "footer" and not spec.default


def test_known_features_are_the_switchable_installed_ones():
    installed = {feature.name for feature in discover()}
    assert knownFeatures() == sorted(installed - {"dkim"})
    assert set(FEATURES) <= set(knownFeatures())
    assert installedSpecs()[: len(BUILT_IN)] == BUILT_IN


def test_each_feature_object_names_the_registrys_header():
    for feature in discover():
        if feature.name in FEATURES:
            assert feature.header == featureSpec(feature.name).header
