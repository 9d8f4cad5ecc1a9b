"""The CTranslate2 engine: every local model (folder, promoted checkpoint, LoRA adapter, cached
hub fine-tune) converted once to int8 (int8_float16 on CUDA) and run by CTranslate2, which
writes several times faster than transformers on an ordinary CPU.

    python -m core.generation.ct2 convert MODEL [--device cpu] [--status FILE]
    python -m core.generation.ct2 status MODEL [--device cpu]

`conversion` (converting, the cache beside the model, `status`) and `engine` (the model in memory,
`Ct2Backend`) hold the two halves; this package names what the rest of the app uses.
"""
from core.generation.ct2.conversion import (FOLDER, NOT_INSTALLED, RECORD, available, compute_type, convert,
                                         convert_model, status)
from core.generation.ct2.engine import (Ct2Backend, Ct2Model, clear_cache, load, load_model, register,
                                        sampling_options)

__all__ = ["FOLDER", "NOT_INSTALLED", "RECORD", "Ct2Backend", "Ct2Model", "available", "clear_cache", "compute_type",
           "convert", "convert_model", "load", "load_model", "register", "sampling_options", "status"]
