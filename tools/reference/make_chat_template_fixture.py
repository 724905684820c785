#!/usr/bin/env python3
"""Regenerate tests/fixtures/tokenizer/chat_templates.json: chat templates rendered by
Hugging Face transformers' own chat-template code, the reference for the minijinja
rendering in crates/gvt-core/src/tokenizer/chat.rs.

    pip install transformers jinja2 gguf
    python3 tools/reference/make_chat_template_fixture.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]

Templates: the embedded default model's (read from assets/gvt-tiny.gguf), SmolLM2's (read
from the GGUF that tools/fetch-weights.sh downloads), and Vicuna v1.1, Llama 2, Llama 3 and
a Qwen2.5-style template written out below. Each is rendered for several conversations,
with and without the generation prompt; where the template calls raise_exception the
fixture records the message instead. Nothing is downloaded: transformers only renders.
"""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "tokenizer" / "chat_templates.json"
DEFAULT_GGUF = Path.home() / ".cache" / "gvt-lens" / "weights" / "SmolLM2-135M-Instruct.Q4_1.gguf"

VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)

# FastChat's `vicuna_v1.1` conversation (what GVT uses): the system message, then
# "USER: q ASSISTANT: a</s>" turns joined by single spaces. Written over several indented
# lines, as many hub templates are, so that trim_blocks/lstrip_blocks matter.
VICUNA_V11 = """{% if messages[0]['role'] == 'system' %}
    {% set system_message = messages[0]['content'] %}
    {% set loop_messages = messages[1:] %}
{% else %}
    {% set system_message = "SYSTEM" %}
    {% set loop_messages = messages %}
{% endif %}
{{- system_message + ' ' -}}
{% for message in loop_messages %}
    {% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') -}}
    {% endif %}
    {% if message['role'] == 'user' %}
        {{- 'USER: ' + message['content'] + ' ' -}}
    {% else %}
        {{- 'ASSISTANT: ' + message['content'] + eos_token -}}
    {% endif %}
{% endfor %}
{% if add_generation_prompt %}
    {{- 'ASSISTANT:' -}}
{% endif %}
""".replace("SYSTEM", VICUNA_SYSTEM)

# meta-llama/Llama-2-7b-chat-hf's template: BOS before every [INST], Python's str.strip().
LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
)

# meta-llama/Meta-Llama-3-8B-Instruct's template: BOS in front, the `trim` filter.
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

# In the style of Qwen2.5's template: `{%-`/`-%}` whitespace control, `tools` (passed as
# None, as transformers does), a computed default system turn, loop.last.
QWEN = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {{- raise_exception('tools are not part of this fixture') }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if message.role == "user" or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role.startswith('assistant') %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content.strip() }}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

ODD = "It's \"quoted\" {{ not_a_variable }} {% if x %} \\n literally,\nthen a real newline, tab\tand unicode: héllo 日本語 😀 <|im_end|>"

CONVERSATIONS = {
    "single": [{"role": "user", "content": "What is the capital of France?"}],
    "system": [
        {"role": "system", "content": "You answer in one word."},
        {"role": "user", "content": "What is the capital of France?"},
    ],
    "multi_turn": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "How many stars are in the image?"},
        {"role": "assistant", "content": "3"},
        {"role": "user", "content": "And hearts?"},
        {"role": "assistant", "content": "none"},
        {"role": "user", "content": "What colour is the square?"},
    ],
    "multi_turn_no_system": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Count the circles."},
    ],
    "odd_text": [
        {"role": "system", "content": "  padded system  \n"},
        {"role": "user", "content": ODD},
        {"role": "assistant", "content": "  an answer with spaces around \n"},
        {"role": "user", "content": "<Img>\ue000</Img>What is this?"},
    ],
    "empty_user": [{"role": "user", "content": ""}],
    "bad_order": [
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
    ],
}


def gguf_template(path):
    import gguf

    reader = gguf.GGUFReader(str(path))
    field = lambda name: reader.fields[name].contents()
    tokens = reader.fields["tokenizer.ggml.tokens"]
    token = lambda i: tokens.contents(i)
    return (
        field("tokenizer.chat_template"),
        token(field("tokenizer.ggml.bos_token_id")),
        token(field("tokenizer.ggml.eos_token_id")),
    )


def render(template, messages, add_generation_prompt, bos_token, eos_token):
    """transformers' rendering: its jinja2 environment (trim_blocks, lstrip_blocks,
    loopcontrols, raise_exception, strftime_now, tojson) and its arguments."""
    import jinja2
    from transformers.utils import chat_template_utils as ctu

    # Like transformers' special_tokens_map, a token the tokenizer lacks is not passed at all.
    kwargs = dict(add_generation_prompt=add_generation_prompt)
    kwargs.update({k: v for k, v in (("bos_token", bos_token), ("eos_token", eos_token)) if v is not None})
    try:
        rendered, _ = ctu.render_jinja_template(conversations=[messages], chat_template=template, **kwargs)
        return {"expected": rendered[0]}
    except jinja2.exceptions.TemplateError as e:
        return {"error": str(e)}


def main():
    smollm2 = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(os.environ.get("GVT_SMOLLM2", DEFAULT_GGUF))
    if not smollm2.is_file():
        sys.exit(f"{smollm2} not found: run tools/fetch-weights.sh first")
    import transformers

    templates = []
    for name, source, (template, bos, eos) in [
        ("gvt-tiny", "assets/gvt-tiny.gguf", gguf_template(ROOT / "assets" / "gvt-tiny.gguf")),
        ("smollm2", "SmolLM2-135M-Instruct GGUF", gguf_template(smollm2)),
        ("vicuna-v1.1", "FastChat vicuna_v1.1, written here", (VICUNA_V11, "<s>", "</s>")),
        ("llama-2", "meta-llama/Llama-2-7b-chat-hf", (LLAMA2, "<s>", "</s>")),
        ("llama-3", "meta-llama/Meta-Llama-3-8B-Instruct", (LLAMA3, "<|begin_of_text|>", "<|eot_id|>")),
        ("qwen2.5-style", "after Qwen2.5-Instruct, written here", (QWEN, None, "<|im_end|>")),
    ]:
        cases = []
        for conv_name, messages in CONVERSATIONS.items():
            for add_generation_prompt in (True, False):
                case = {"conversation": conv_name, "add_generation_prompt": add_generation_prompt}
                case.update(render(template, messages, add_generation_prompt, bos, eos))
                cases.append(case)
        templates.append(
            {"name": name, "source": source, "template": template, "bos_token": bos, "eos_token": eos, "cases": cases}
        )

    fixture = {
        "generated_by": "tools/reference/make_chat_template_fixture.py",
        "reference": f"transformers {transformers.__version__} chat_template_utils (jinja2 {__import__('jinja2').__version__})",
        "conversations": CONVERSATIONS,
        "templates": templates,
    }
    OUT.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n")
    n = sum(len(t["cases"]) for t in templates)
    print(f"wrote {OUT} ({len(templates)} templates, {n} renderings)", file=sys.stderr)


if __name__ == "__main__":
    main()
