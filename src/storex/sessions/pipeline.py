"""Train one session model on a data set with its tuned settings: what a CLI command runs.

The settings come from ``configs/sessions.yaml`` (the data set's entry over ``default``, see
:func:`storex.sessions.settings.session_settings`), so a model trained here is the one the
benchmark measured.
"""

from __future__ import annotations

from pathlib import Path

from storex.errors import ConfigError
from storex.sessions.dataset import SessionDataset, SessionDataSettings, prepare_sessions
from storex.sessions.model import SessionModelConfig
from storex.sessions.recommender import SessionRecommender
from storex.sessions.settings import session_settings
from storex.sessions.sources import dataset_name


def train_session_model(
    source: str | Path,
    model: str = "graph_transformer",
    *,
    settings_path: str | Path | None = None,
    cache_dir: str | Path | None = None,
    log_path: str | Path | None = None,
) -> tuple[SessionRecommender, SessionDataset]:
    """Prepare ``source`` (a name or a session file) and fit the settings' ``model`` on it.

    Returns the fitted model (``save`` it for the service) and the prepared data, whose
    ``report`` counts what was dropped on the way.
    """
    settings = session_settings(dataset_name(source), settings_path)
    if model not in settings["models"]:
        raise ConfigError(
            f"no session model {model!r} in the settings; known: {', '.join(settings['models'])}"
        )
    data = prepare_sessions(source, SessionDataSettings.from_dict(settings["data"]))
    config = SessionModelConfig.from_dict(settings["models"][model])
    fitted = SessionRecommender(config, model).fit(data, cache_dir=cache_dir, log_path=log_path)
    return fitted, data
