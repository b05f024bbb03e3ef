"""A transformers ``Trainer`` with complete-or-absent checkpoints (perception_r1.train.atomic_save) on a toy
regression model, run by ``torchrun`` in several processes on the CPU (gloo), for the multi-rank save tests.

Usage::

    python -m torch.distributed.run --standalone --nproc_per_node 2 -m support.ddp_trainer OUT MAX_STEPS \\
        [KILL_RANK KILL_STEP]

Every step is checkpointed. With ``KILL_RANK``/``KILL_STEP``, that rank sends itself SIGKILL while writing its
``rng_state_<rank>.pth`` of checkpoint ``KILL_STEP`` (half the file written): a save cut on one rank only.
"""

from __future__ import annotations

import os
import sys

from support.fault_run import install


def main(argv: list[str]) -> None:
    import signal

    import torch
    from transformers import Trainer, TrainingArguments

    from perception_r1.train.atomic_save import atomic_checkpoints

    out, max_steps = argv[0], int(argv[1])
    if len(argv) == 4 and int(os.environ.get("RANK", "0")) == int(argv[2]):
        install(signal.SIGKILL, f"rng_state_{argv[2]}.pth", int(argv[3]))

    class Toy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(4, 1)

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"loss": torch.nn.functional.mse_loss(self.linear(x).squeeze(-1), y)}

    torch.manual_seed(0)
    data = [{"x": torch.randn(4), "y": torch.randn(())} for _ in range(64)]
    args = TrainingArguments(
        output_dir=out, max_steps=max_steps, per_device_train_batch_size=4, save_strategy="steps", save_steps=1,
        save_total_limit=2, logging_steps=1, report_to=["none"], use_cpu=True, dataloader_num_workers=0,
    )  # fmt: skip
    trainer = atomic_checkpoints(Trainer)(model=Toy(), args=args, train_dataset=data)
    trainer.train()
    # Tear the gloo group down before the interpreter does: left to exit, a rank can abort in gloo's threads
    # ("terminate called without an active exception", seen once here after a complete run).
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1:])
