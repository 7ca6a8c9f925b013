"""The test-set record: the course's own run refuses a changed recipe on an old seed, a
learner's run warns and writes only to its scratch folder (helpers.test_record)."""

from __future__ import annotations

import warnings

import pytest

from helpers import config, test_record

OLD = {"fit": {"epochs": 5}, "train_size": 55000}
CHANGED = {"fit": {"epochs": 6}, "train_size": 55000}


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A repository root whose committed record holds seed 7 of recipe 'rung' scored with OLD."""
    monkeypatch.setattr(config, "REPO_ROOT", tmp_path)
    for name in (config.QUICK_ENV, config.OUTPUT_ENV, config.COURSE_RUN_ENV):
        monkeypatch.delenv(name, raising=False)
    committed = tmp_path / "results" / test_record.FILE_NAME
    committed.parent.mkdir()
    committed.write_text(
        "date,source,recipe,fingerprint,seed,test_accuracy\n"
        f"2026-11-26,notebook 06,rung,{test_record.fingerprint(OLD)},7,0.9900\n")
    return tmp_path


def test_fingerprint_covers_every_setting():
    assert test_record.fingerprint(OLD) == test_record.fingerprint(dict(OLD))
    assert test_record.fingerprint(OLD) != test_record.fingerprint(CHANGED)
    assert test_record.fingerprint(OLD) != test_record.fingerprint({**OLD, "train_size": 6000})


def test_course_run_refuses_a_changed_recipe_on_an_old_seed(repo, monkeypatch):
    monkeypatch.setenv(config.COURSE_RUN_ENV, "1")
    with pytest.raises(test_record.TestSetReuseError, match="new seeds"):
        test_record.check("rung", 7, CHANGED)
    with pytest.raises(test_record.TestSetReuseError):
        test_record.record("notebook 06", "rung", CHANGED, 7, 0.995)
    test_record.check("rung", 8, CHANGED)  # a new seed is free
    test_record.check("other rung", 7, CHANGED)  # so is another recipe


def test_course_run_reproduction_replaces_its_row(repo, monkeypatch):
    monkeypatch.setenv(config.COURSE_RUN_ENV, "1")
    test_record.record("notebook 06", "rung", OLD, 7, 0.99)
    rows = test_record.read_record(test_record.committed_record_path())
    assert len(rows) == 1 and rows[0]["commit"] != ""
    test_record.record("notebook 06", "rung", OLD, 8, 0.99)
    assert len(test_record.read_record(test_record.committed_record_path())) == 2


def test_learner_run_warns_and_leaves_tracked_files_untouched(repo):
    committed = test_record.committed_record_path()
    before = committed.read_bytes()
    with pytest.warns(test_record.TestSetReuseWarning, match="optimistic"):
        test_record.record("notebook 06", "rung", CHANGED, 7, 0.995)
    assert committed.read_bytes() == before
    personal = repo / "scratch" / "full" / "results" / test_record.FILE_NAME
    assert test_record.record_path() == personal
    rows = test_record.read_record(personal)
    assert [(row["recipe"], row["seed"]) for row in rows] == [("rung", "7")]


def test_learner_run_without_conflict_is_silent(repo):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        test_record.record("notebook 06", "rung", OLD, 7, 0.99)  # same settings: reproduction
        test_record.record("notebook 06", "rung", CHANGED, 9, 0.99)  # a new seed


def test_run_settings_fingerprint_changes_with_the_learning_rate():
    keras = pytest.importorskip("keras")

    def compiled(rate):
        inputs = keras.Input((4,))
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
        model.compile(optimizer=keras.optimizers.Adam(rate), loss="categorical_crossentropy")
        return model

    settings = [test_record.run_settings(compiled(rate), fit={"epochs": 1}, train_size=10)
                for rate in (1e-3, 1e-3, 2e-3)]
    marks = [test_record.fingerprint(s) for s in settings]
    assert marks[0] == marks[1] != marks[2]
