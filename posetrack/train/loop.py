"""The training loop every model here shares: Adam with warm-up and cosine decay, validation, checkpoints
(``last.pth`` to resume, ``best.pth`` at the best validation metric) and resume."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

M = TypeVar("M", bound=nn.Module)
B = TypeVar("B")  # a batch, whatever the loss takes


@dataclass
class TrainConfig:
    """Training settings. steps: optimiser steps. lr: peak Adam learning rate (official 1e-3), reached after
    ``warmup`` steps, then cosine decay to ``lr * final_lr``. val_every: steps between validations.
    device: where the model trains (``cpu``, ``cuda``, ``cuda:N``); batches follow it."""

    steps: int = 3000
    lr: float = 1e-3
    warmup: int = 100
    final_lr: float = 0.02
    weight_decay: float = 0.0
    val_every: int = 500
    seed: int = 0
    device: str = "cpu"


@dataclass
class History:
    """Loss per step and validation results, saved with checkpoints (for curves and model cards)."""

    loss: list[float] = field(default_factory=list)
    val: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def lr_factor(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.final_lr + (1 - cfg.final_lr) * 0.5 * (1 + np.cos(np.pi * min(progress, 1.0)))


def optimiser_step(loss: torch.Tensor, optimiser: torch.optim.Optimizer, schedule, history: History) -> None:
    """Backward, step, schedule, and record the loss."""
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    schedule.step()
    history.loss.append(loss.item())


def fit(model: M, train: Iterator[B], loss_fn: Callable[[M, B], torch.Tensor], cfg: TrainConfig,
        out_dir: str | Path, validate_fn: Callable[[M], dict[str, float]] | None, metric: str,
        resume: bool = True, progress: bool = True) -> History:
    """The training loop of every model here: ``cfg.steps`` Adam steps on ``loss_fn(model, batch)``.

    Writes ``out_dir/last.pth`` (resume state: model, optimiser, schedule, step, history) at every validation and
    at the end (also when interrupted), ``out_dir/best.pth`` (plain state_dict) at the best ``metric`` of
    ``validate_fn(model)``, and ``out_dir/history.json``. With ``resume`` an existing ``last.pth`` is continued
    (a larger ``cfg.steps`` stretches the cosine schedule: a warm restart).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    # NHWC convolutions: a training step of the demo HRNet takes 0.43 s instead of 0.54 s at 128x96 (batch 32, 2 cores)
    model.to(device=cfg.device)
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # Module.to takes it; the stubs lack it
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: lr_factor(s, cfg))
    history, start, best = History(), 0, -1.0
    last = out_dir / "last.pth"
    if resume and last.is_file():
        state = torch.load(last, map_location=cfg.device, weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        start, history = state["step"], History(**state["history"])
        best = max((v[metric] for v in history.val), default=-1.0)

    def checkpoint(step: int) -> None:
        torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "schedule": schedule.state_dict(),
                    "step": step, "history": asdict(history), "config": asdict(cfg)}, last)
        (out_dir / "history.json").write_text(json.dumps(asdict(history)))

    bar = tqdm(total=cfg.steps, initial=start, disable=not progress, unit="step", dynamic_ncols=True)
    t0 = time.perf_counter()
    try:
        for step in range(start, cfg.steps):
            model.train()
            optimiser_step(loss_fn(model, next(train)), optimiser, schedule, history)
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(history.loss[-50:]):.2e}", lr=f"{schedule.get_last_lr()[0]:.1e}")
            if validate_fn is not None and ((step + 1) % cfg.val_every == 0 or step + 1 == cfg.steps):
                stats = validate_fn(model)
                history.val.append({"step": step + 1, **stats})
                bar.write(f"step {step + 1}: " + "  ".join(f"{k} {stats[k]:.4f}" for k in ("AP", "AP50", "AR")))
                if stats[metric] > best:
                    best = stats[metric]
                    torch.save(model.state_dict(), out_dir / "best.pth")
                history.seconds += time.perf_counter() - t0
                t0 = time.perf_counter()
                checkpoint(step + 1)
    finally:  # an interrupted run keeps what it learned
        history.seconds += time.perf_counter() - t0
        bar.close()
        checkpoint(len(history.loss))
    return history


def device_of(model: nn.Module) -> torch.device:
    """The device a model's weights are on (where its batches must go)."""
    return next(model.parameters()).device
