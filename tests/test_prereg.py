"""Pre-registration: the commit an experiment's plan was registered at (in a temporary git
repository with hand-set commit dates) and the verdict against hand-made manifest sessions."""

import dataclasses
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from synthetic import make_experiment, write_results

from harness.analysis import markdown, prereg
from harness.analysis.report_writer import write_report
from harness.runs import plan_history
from harness.runs.experiment import load_experiment
from harness.runs.spec import ClaimPlan

PLAN = """\
# {comment}
name: t
envs: [Hopper-v5]
seeds: {{min: 2, max: 4, step: 2}}
total_steps: 4096
analysis:
  claims:
    C1: {{estimand: {estimand}}}
"""
UNDECLARED = "name: t\nenvs: [Hopper-v5]\nseeds: 2\ntotal_steps: 4096\n"


def day(n: int) -> datetime:
    return datetime(2026, 1, n, tzinfo=UTC)


def commit(repo: Path, text: str, when: datetime) -> str:
    """Commit ``text`` as ``exp.yaml`` with author and committer date ``when``."""
    (repo / "exp.yaml").write_text(text)
    stamp = when.isoformat()
    env = {**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              cwd=repo, env=env, check=True, capture_output=True,
                              text=True).stdout.strip()
    git("add", "exp.yaml")
    git("commit", "-q", "-m", f"exp at {stamp}")
    return git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path):
    """A repository whose exp.yaml declares nothing (day 1), then declares C1 fixed (day 2),
    then only edits a comment (day 3): registered on day 2."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    commit(tmp_path, UNDECLARED, day(1))
    declared = commit(tmp_path, PLAN.format(comment="plan", estimand="fixed"), day(2))
    commit(tmp_path, PLAN.format(comment="plan, reworded", estimand="fixed"), day(3))
    return tmp_path, declared


def found(path: Path):
    return plan_history.registration(load_experiment(path))


def session(when: datetime, **fields):
    return {"started": when.isoformat(), **fields}


def test_a_comment_edit_does_not_move_the_registration(repo):
    root, declared = repo
    assert found(root / "exp.yaml") == plan_history.Registration(declared, day(2))


def test_a_plan_edit_registers_anew(repo):
    root, _ = repo
    changed = commit(root, PLAN.format(comment="plan", estimand="random"), day(4))
    assert found(root / "exp.yaml") == plan_history.Registration(changed, day(4))


def test_a_plan_back_to_an_older_one_is_registered_when_it_came_back(repo):
    """The plan has not changed *since* the registration: an A, B, A history dates A's
    return, not its first commit."""
    root, _ = repo
    commit(root, PLAN.format(comment="plan", estimand="random"), day(4))
    back = commit(root, PLAN.format(comment="plan", estimand="fixed"), day(5))
    assert found(root / "exp.yaml") == plan_history.Registration(back, day(5))


def test_an_uncommitted_plan_is_not_registered(repo):
    root, _ = repo
    (root / "exp.yaml").write_text(PLAN.format(comment="plan", estimand="random"))
    assert "differs from its last committed version" in found(root / "exp.yaml").why


def test_an_uncommitted_comment_edit_keeps_the_registration(repo):
    root, declared = repo
    (root / "exp.yaml").write_text(PLAN.format(comment="edited, not committed", estimand="fixed"))
    assert found(root / "exp.yaml") == plan_history.Registration(declared, day(2))


def test_an_untracked_file_is_not_committed(repo):
    root, _ = repo
    (root / "other.yaml").write_text(PLAN.format(comment="", estimand="fixed"))
    assert found(root / "other.yaml") == plan_history.Unknown("other.yaml is not committed")


def test_without_a_checkout_or_git_it_says_why(tmp_path, monkeypatch):
    path = tmp_path / "exp.yaml"
    path.write_text(PLAN.format(comment="", estimand="fixed"))
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # no repo above
    assert found(path).why.startswith("not a git checkout with this file's history (")
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    assert found(path) == plan_history.Unknown("git is not installed")
    exp = dataclasses.replace(load_experiment(path), source="")
    assert plan_history.registration(exp).why == "the experiment file (not recorded) is not here"


def test_a_shallow_clone_says_its_history_is_cut(repo, tmp_path_factory):
    root, _ = repo
    clone = tmp_path_factory.mktemp("clone") / "c"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{root}", str(clone)],
                   check=True)
    assert "shallow" in found(clone / "exp.yaml").why


REGISTERED = plan_history.Registration("a" * 40, day(2))


def test_every_training_session_after_the_commit_is_pre_registered():
    t = prereg.timing(REGISTERED, [session(day(3), trained=4), session(day(4))])
    assert (t.verdict, t.training, t.before) == ("pre-registered", 2, 0)
    assert t.statement == ("pre-registered: registered at `aaaaaaa` (2026-01-02 00:00:00 "
                           "+0000), before all 2 sessions that trained its runs (the first "
                           "started 2026-01-03 00:00:00 +0000)")
    assert t.uncounted is None


def test_a_session_that_trained_before_the_commit_makes_it_post_hoc():
    """No ``trained`` count (older manifests) counts as training; so does a session that
    started the very second of the commit, or cannot be dated."""
    for early in (session(day(1)), session(day(2), trained=1), {"trained": 2}):
        t = prereg.timing(REGISTERED, [early, session(day(3), trained=4)])
        assert (t.verdict, t.before, t.training) == ("post hoc", 1, 2)
        assert t.statement.startswith("declared after 1 of its 2 sessions that trained runs "
                                      "had trained (post hoc): registered at `aaaaaaa`")


def test_sessions_that_trained_nothing_do_not_count_and_reused_runs_are_named():
    reused = {"r1": "../other", "r2": "../other"}
    t = prereg.timing(REGISTERED, [session(day(1), trained=0, reused=reused),
                                   session(day(3), trained=4)])
    assert (t.verdict, t.before, t.idle, t.reused) == ("pre-registered", 0, 1, 2)
    assert t.uncounted == ("1 sessions trained no run and do not count; the 2 runs copied "
                           "with `--reuse` were trained by other studies, not by this one")
    t = prereg.timing(REGISTERED, [session(day(1), trained=0)])
    assert t.verdict == "nothing trained"


def test_an_unknown_registration_is_no_verdict():
    t = prereg.timing(plan_history.Unknown("git is not installed"), [session(day(1), trained=3)])
    assert t.verdict == "unknown"
    assert t.statement == "registration commit unknown: git is not installed"
    assert prereg.record(make_experiment({"a": {}}, "a"), t)["unknown"] == "git is not installed"


def test_a_naive_start_time_is_utc():
    t = prereg.timing(REGISTERED, [{"started": "2026-01-02T00:00:01", "trained": 1}])
    assert t.verdict == "pre-registered"


def test_the_section_quotes_the_plan_and_the_verdict(repo):
    root, declared = repo
    exp = load_experiment(root / "exp.yaml")
    lines = markdown._preregistration(exp, prereg.timing(
        plan_history.registration(exp), [session(day(1), trained=2)]))
    assert "| C1 | fixed | 10% (section's) | 0.05 (section's) | – |" in "\n".join(lines)
    assert lines[-2].startswith("- seeds: sequential, looks at 2, 4 runs per arm and env, max 4;")
    assert lines[-1] == ("- **Registration**: declared after 1 of its 1 sessions that trained "
                         f"runs had trained (post hoc): registered at `{declared[:7]}` "
                         "(2026-01-02 00:00:00 +0000); the first started 2026-01-01 00:00:00 "
                         "+0000.")
    nothing = markdown._preregistration(exp, None)
    assert nothing[-1].startswith("No claim is declared in `analysis.claims`")


def test_a_report_without_git_history_says_so(tmp_path, monkeypatch):
    """write_report of a study whose file is in no checkout: a line, not a crash."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    variants = {"value_clip=none": {"value_clip": "none"}, "value_clip=max": {"value_clip": "max"}}
    exp = make_experiment(variants, "value_clip=none", seeds=range(3))
    write_results(tmp_path, exp, {"value_clip=none": 1.0, "value_clip=max": 1.0})
    (tmp_path / "exp.yaml").write_text(UNDECLARED)
    exp = dataclasses.replace(exp, source=str(tmp_path / "exp.yaml"), analysis=dataclasses.replace(
        exp.analysis, claims=(("C1", ClaimPlan("fixed")),)))
    report = write_report(exp, tmp_path, n_boot=100)
    assert "- **Registration**: registration commit unknown: not a git checkout" in (
        report / "report.md").read_text()
    assert '"verdict": "unknown"' in (report / "prereg.json").read_text()
