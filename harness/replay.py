"""``harness rollout``: replay a finished run's saved policy (``<results dir>/*/policies/``).

The policy acts as in evaluation (``ppo.evaluate``): its mean action, its observation
normaliser frozen. Episode i starts from the reset of episode i of the run's last evaluation
under the run's own seed (or ``--seed``), so a replay of an evaluated run repeats its last
evaluation's episodes. With a video file, every few steps are rendered (``render_mode=
"rgb_array"``) and written through imageio.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from harness.runs.experiment import first_line
from harness.runs.results import POLICIES, find_policies

if TYPE_CHECKING:  # imported in replay(): they import mujoco, which may fail to load OpenGL
    from harness.ppo.evaluate import EvalEnvs, EvalEpisode

VIDEO_SUFFIXES = (".mp4", ".gif")
VIDEO_FPS = 30
"""Frame rate videos are cut down to (MuJoCo envs render up to 125 frames a second): GIF
viewers slow frames shorter than 20 ms down, and fewer frames keep the files small."""


class ReplayError(ValueError):
    """A replay that cannot be done as asked; ``str()`` is one line for ``error:``."""


def find_policy(results_dir: Path, run_id: str) -> Path:
    """The one saved policy of ``run_id`` under ``results_dir/*/policies/``."""
    if not run_id or Path(run_id).name != run_id:
        raise ReplayError(f"{run_id!r}: not a run id (a file name such as "
                          "Hopper-v5__default__s0__1a2b3c4d)")
    found = find_policies(results_dir, run_id)
    if not found:
        raise ReplayError(f"{run_id}: no saved policy in {results_dir}/*/{POLICIES}/ (a run "
                          "saves one when it finishes; `harness status` lists the runs, "
                          "--results-dir says where to look)")
    if len(found) > 1:
        names = ", ".join(p.parent.parent.name for p in found)
        raise ReplayError(f"{run_id}: saved in {len(found)} experiments under {results_dir} "
                          f"({names}); give a --results-dir that holds one of them")
    return found[0]


def load_policy(path: Path) -> dict[str, Any]:
    """The record saved at ``path`` (plain tensors only: nothing in it runs code)."""
    try:
        return torch.load(path, weights_only=True)
    except Exception as e:  # a cut-short or foreign file fails in many ways
        raise ReplayError(f"{path}: not a readable policy ({type(e).__name__})") from None


def replay(record: dict[str, Any], episodes: int, *, seed: int | None = None,
           video: Path | None = None) -> list[EvalEpisode]:
    """Play ``episodes`` episodes of the saved policy ``record``; with ``video``, write them
    to that .mp4 or .gif file. Returns (episode, return, length) per episode."""
    if video is not None and video.suffix.lower() not in VIDEO_SUFFIXES:
        raise ReplayError(f"--video {video}: must end in {' or '.join(VIDEO_SUFFIXES)}")
    try:  # mujoco loads the OpenGL backend MUJOCO_GL names when imported
        from harness.ppo.evaluate import EvalEnvs
        from harness.ppo.policy import from_record
    except Exception as e:  # a backend that is missing here (MuJoCo 4 fails on import)
        if video is None:
            raise
        raise _cannot_render(e) from None
    env = EvalEnvs(record["env_id"], 1, **record.get("env_kwargs", {}),  # older: none
                   **({"render_mode": "rgb_array"} if video else {}))
    policy, seeds = from_record(record), [record["seed"] if seed is None else seed]
    try:
        if video is None:
            return env.run(policy, [0], seeds, record["evaluation"], episodes)[0]
        env.envs[0].reset(seed=0)  # a first frame, so a machine that cannot render says so
        _render(env)  # before a file is made (every episode's reset is seeded again)
        fps = env.envs[0].metadata.get("render_fps") or VIDEO_FPS
        stride = max(1, round(fps / VIDEO_FPS))
        with _video_writer(video, fps / stride) as writer:
            watch = _every(stride, lambda: writer.append_data(_render(env)))
            return env.run(policy, [0], seeds, record["evaluation"], episodes, watch)[0]
    finally:
        env.close()


def _every(stride: int, action: Callable[[], None]) -> Callable[[], None]:
    """``action`` on the first call and every ``stride``-th after it."""
    calls = [0]

    def watch() -> None:
        if calls[0] % stride == 0:
            action()
        calls[0] += 1

    return watch


def _render(env: EvalEnvs) -> Any:
    try:
        return env.envs[0].render()
    except Exception as e:  # no OpenGL here: EGL/OSMesa missing, no display
        raise _cannot_render(e) from None


def _cannot_render(error: Exception) -> ReplayError:
    return ReplayError(f"--video: MuJoCo cannot render here with MUJOCO_GL="
                       f"{os.environ.get('MUJOCO_GL', '')} ({type(error).__name__}: "
                       f"{first_line(error)}); headless machines render with MUJOCO_GL=egl "
                       "(a GPU's EGL driver) or MUJOCO_GL=osmesa (the OSMesa library)")


def _video_writer(path: Path, fps: float) -> Any:
    try:
        import imageio  # the `video` extra
    except ImportError:
        raise ReplayError("--video needs imageio: pip install 'vclip-harness[video]'") from None
    options = ({"duration": 1000 / fps, "loop": 0} if path.suffix.lower() == ".gif"
               else {"fps": fps})
    try:
        return imageio.get_writer(path, **options)
    except (ValueError, OSError) as e:  # no mp4 backend (imageio-ffmpeg), unwritable path
        raise ReplayError(f"--video {path}: {first_line(e)} (mp4 needs imageio-ffmpeg: pip "
                          "install 'vclip-harness[video]'; or write a .gif)") from None

