"""llama.cpp, the peer mmchat is measured and tested against, started so that it runs on any CPU.

A llama.cpp built on a CPU with AMX (Sapphire Rapids and later Xeons) repacks Q4_1 weights into
its AMX buffers, and its AMX matmul then crashes on the first answer (SIGSEGV in
ggml_backend_amx_mul_mat; ggml-org/llama.cpp#20824, closed without a fix). Where AMX is built
in, the weights stay in llama.cpp's plain CPU buffers: its "extra buffer types" off, as
llama-server's --no-repack does. llama-cpp-python has no setting for it, so its model defaults
are wrapped before a model loads.

Run as a script, this is llama-cpp-python's OpenAI-compatible server with that guard:
    python bench/llama_peer.py --model FILE.gguf --port 8000
"""

from __future__ import annotations

from typing import Any


def has_amx() -> bool:
    """Whether this llama.cpp was built with its AMX kernels (and the CPU has AMX)."""
    import llama_cpp

    return b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info()


def without_amx() -> bool:
    """Load every later model without llama.cpp's extra buffer types where AMX is built in;
    True if that was needed. Call before the model loads."""
    if not has_amx():
        return False
    from llama_cpp import llama_cpp as bindings

    defaults = bindings.llama_model_default_params

    def params() -> Any:
        chosen = defaults()
        chosen.use_extra_bufts = False
        return chosen

    # Llama.__init__ reads its defaults through this module attribute.
    bindings.llama_model_default_params = params
    return True


if __name__ == "__main__":
    from llama_cpp.server.__main__ import main

    without_amx()
    main()
