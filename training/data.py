"""Prompt/completion records -> input ids and labels for causal-LM fine-tuning.

The loss is on the completion and its end-of-text only: the prompt and the padding are labelled
-100. Batches are padded to their longest row (right padding), not to `max_length`. Prompts are
encoded with `add_special_tokens=False`, exactly as the generation backend feeds them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import torch

from core.i18n import _
from training.runs import read_json

IGNORE = -100  # label the loss skips (torch's CrossEntropyLoss ignore_index)
# training.prepare's record format -> the prompt format a model trained on those records needs
PROMPT_FORMAT_OF = {"v1": "v1", "v2": "v2", "words": "own"}


def read_report(data: str | Path) -> dict:
    """The report.json training.prepare wrote for a dataset (DIR or DIR/dataset); {} if none."""
    return read_json(Path(data) / "report.json") or read_json(Path(data).parent / "report.json")


def prompt_format_of(data: str | Path) -> str | None:
    """The prompt format a model trained on this dataset expects, None when its report is missing."""
    return PROMPT_FORMAT_OF.get(read_report(data).get("format"))


def encode(tokenizer, prompt: str, completion: str, max_length: int) -> dict:
    """input_ids = prompt + completion + eos, cut to max_length; labels mask the prompt."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    completion_ids = completion_ids + [tokenizer.eos_token_id]
    input_ids = (prompt_ids + completion_ids)[:max_length]
    labels = ([IGNORE] * len(prompt_ids) + completion_ids)[:max_length]
    return {"input_ids": input_ids, "labels": labels}


def tokenize_records(dataset, tokenizer, max_length: int):
    """A `datasets.Dataset` of prompt/completion rows -> rows of input_ids and labels.
    Rows whose prompt alone fills max_length have nothing to learn and are dropped."""
    def fn(row):
        return encode(tokenizer, row["prompt"], row["completion"], max_length)
    tokenized = dataset.map(fn, remove_columns=dataset.column_names)
    return tokenized.filter(lambda row: any(label != IGNORE for label in row["labels"]))


def pack(examples: Iterable[dict], max_length: int) -> list[dict]:
    """Concatenate examples (in order) into rows of at most max_length tokens. Each example keeps
    its own prompt masking; an example never straddles two rows."""
    rows, ids, labels = [], [], []
    for ex in examples:
        if ids and len(ids) + len(ex["input_ids"]) > max_length:
            rows.append({"input_ids": ids, "labels": labels})
            ids, labels = [], []
        ids = ids + list(ex["input_ids"])
        labels = labels + list(ex["labels"])
    if ids:
        rows.append({"input_ids": ids, "labels": labels})
    return rows


def pack_dataset(tokenized, max_length: int):
    """`pack` over a whole tokenized dataset, returned as a `datasets.Dataset`."""
    from datasets import Dataset
    rows = pack(tokenized, max_length)
    return Dataset.from_dict({"input_ids": [r["input_ids"] for r in rows],
                              "labels": [r["labels"] for r in rows]})


class CompletionCollator:
    """Rows (raw prompt/completion, or already tokenized input_ids/labels) -> a padded batch.

    `loss_tokens` counts the loss-bearing tokens handed out so far, for tokens/second."""

    def __init__(self, tokenizer, max_length: int, pack: bool = False):
        if tokenizer.eos_token_id is None:
            raise ValueError(_("the tokenizer has no end-of-text token; set tokenizer.eos_token"))
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.pack = pack
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.loss_tokens = 0

    def _row(self, feature: dict) -> dict:
        if "input_ids" in feature:
            return {"input_ids": list(feature["input_ids"])[:self.max_length],
                    "labels": list(feature["labels"])[:self.max_length]}
        return encode(self.tokenizer, feature["prompt"], feature["completion"], self.max_length)

    def __call__(self, features: Sequence[dict]) -> dict[str, torch.Tensor]:
        rows = [self._row(f) for f in features]
        if self.pack:
            rows = pack(rows, self.max_length)
        width = max(len(r["input_ids"]) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            input_ids[i, :n] = torch.tensor(r["input_ids"])
            labels[i, :n] = torch.tensor(r["labels"])
            attention[i, :n] = 1
        self.loss_tokens += int((labels != IGNORE).sum())
        return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}
