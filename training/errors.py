"""The error training code raises for what a user can fix."""
from __future__ import annotations


class TrainError(Exception):
    """Something the user can fix before or while training (fp16 without CUDA, LoRA without
    peft, targets that do not fit the model), in one sentence. Library code raises it; only the
    command line turns it into an exit status and prints the sentence alone."""
