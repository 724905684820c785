//! Chat prompts from a GGUF's `tokenizer.chat_template`.
//!
//! The template is Jinja; rather than embed a Jinja interpreter, we recognise the few
//! formats the supported models use (the way llama.cpp's `llm_chat_detect_template` does)
//! and render one user turn plus the assistant generation prompt ourselves. A default
//! system message is taken from the template text where it is a literal, so that e.g.
//! SmolLM2 gets exactly the system turn its template would add.

/// A recognised chat format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChatFormat {
    /// No (recognised) template: the user text is the prompt.
    Plain,
    /// `<|im_start|>role\n...<|im_end|>\n` (Qwen, SmolLM, many others).
    ChatMl { system: Option<String> },
    /// `<|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>`.
    Llama3 { system: Option<String> },
    /// `[INST] ... [/INST]` with an optional `<<SYS>>` block.
    Llama2 { system: Option<String> },
    /// `USER: ... ASSISTANT:` with the system message in front; `sep` joins the parts
    /// (" " in FastChat's Vicuna v1.1, "\n" in llama.cpp's rendering).
    Vicuna {
        system: Option<String>,
        sep: &'static str,
    },
}

impl ChatFormat {
    /// Recognises `template` (the `tokenizer.chat_template` text).
    pub(crate) fn detect(template: Option<&str>) -> Self {
        let Some(t) = template.filter(|t| !t.trim().is_empty()) else {
            return Self::Plain;
        };
        if t.contains("<|im_start|>") {
            let system = chatml_system(t).or_else(|| set_system_literal(t));
            Self::ChatMl { system }
        } else if t.contains("<|start_header_id|>") {
            Self::Llama3 {
                system: set_system_literal(t),
            }
        } else if t.contains("[INST]") {
            Self::Llama2 {
                system: set_system_literal(t),
            }
        } else if t.contains("USER:") && t.contains("ASSISTANT:") {
            let sep = if t.contains("\nASSISTANT:") || t.contains("\\nASSISTANT:") {
                "\n"
            } else {
                " "
            };
            let system = set_system_literal(t).or_else(|| leading_text(t));
            Self::Vicuna { system, sep }
        } else {
            Self::Plain
        }
    }

    /// One user turn followed by the assistant's generation prompt. BOS is not included:
    /// encode the result with [`Tokenizer::add_bos`](super::Tokenizer::add_bos).
    pub(crate) fn render(&self, user: &str) -> String {
        match self {
            Self::Plain => user.to_string(),
            Self::ChatMl { system } => {
                let mut s = String::new();
                if let Some(sys) = system {
                    s.push_str(&format!("<|im_start|>system\n{sys}<|im_end|>\n"));
                }
                s.push_str(&format!(
                    "<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
                ));
                s
            }
            Self::Llama3 { system } => {
                let mut s = String::new();
                if let Some(sys) = system {
                    s.push_str(&format!(
                        "<|start_header_id|>system<|end_header_id|>\n\n{sys}<|eot_id|>"
                    ));
                }
                s.push_str(&format!(
                    "<|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|>\
                     <|start_header_id|>assistant<|end_header_id|>\n\n"
                ));
                s
            }
            Self::Llama2 { system } => match system {
                Some(sys) => format!("[INST] <<SYS>>\n{sys}\n<</SYS>>\n\n{user} [/INST]"),
                None => format!("[INST] {user} [/INST]"),
            },
            Self::Vicuna { system, sep } => match system {
                Some(sys) => format!("{sys}{sep}USER: {user}{sep}ASSISTANT:"),
                None => format!("USER: {user}{sep}ASSISTANT:"),
            },
        }
    }
}

/// The literal system message of a ChatML template: the text between
/// `<|im_start|>system` + newline and `<|im_end|>`, when it is plain text (not a
/// `message['content']` expression). The newline may be literal or a `\n` escape inside
/// a Jinja string.
fn chatml_system(t: &str) -> Option<String> {
    const OPEN: &str = "<|im_start|>system";
    let mut rest = t;
    while let Some(pos) = rest.find(OPEN) {
        rest = &rest[pos + OPEN.len()..];
        let body = rest.strip_prefix('\n').or_else(|| rest.strip_prefix("\\n"));
        let Some(body) = body else { continue };
        let Some(end) = body.find("<|im_end|>") else {
            continue;
        };
        if let Some(text) = plain_literal(&body[..end]) {
            return Some(text);
        }
    }
    None
}

/// The value of a `{% set <name> = '...' %}` whose name mentions "system" and whose value
/// is a non-empty string literal, e.g. Llama-2's `default_system_message`.
fn set_system_literal(t: &str) -> Option<String> {
    let mut rest = t;
    while let Some(pos) = rest.find("set ") {
        rest = &rest[pos + 4..];
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim();
        if !name.contains("system") || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let value = rest[eq + 1..].trim_start();
        let Some(quote) = value.chars().next().filter(|&c| c == '\'' || c == '"') else {
            continue;
        };
        let Some(end) = find_closing_quote(&value[1..], quote) else {
            continue;
        };
        let text = unescape(&value[1..1 + end]);
        if !text.trim().is_empty() {
            return Some(text);
        }
    }
    None
}

/// Text before the first Jinja tag, if the template starts with a literal (a Vicuna-style
/// template whose system message is plain text ahead of the message loop).
fn leading_text(t: &str) -> Option<String> {
    let end = ["{%", "{{", "{#"]
        .iter()
        .filter_map(|tag| t.find(tag))
        .min()
        .unwrap_or(t.len());
    let text = t[..end].trim();
    (!text.is_empty() && !text.contains("USER:")).then(|| text.to_string())
}

/// `s` unescaped, if it is plain text: no Jinja delimiters or string concatenation, which
/// would mean the system message is computed rather than written out.
fn plain_literal(s: &str) -> Option<String> {
    let code = [
        "{{", "}}", "{%", "%}", "' +", "+ '", "\" +", "+ \"", "message",
    ];
    if s.trim().is_empty() || code.iter().any(|c| s.contains(c)) {
        return None;
    }
    Some(unescape(s))
}

/// Index of the first unescaped `quote` in `s`.
fn find_closing_quote(s: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == quote => return Some(i),
            _ => {}
        }
    }
    None
}

/// Resolves the backslash escapes a Jinja string literal may contain.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn chatml_with_default_system() {
        let f = ChatFormat::detect(Some(SMOLLM2));
        assert_eq!(
            f,
            ChatFormat::ChatMl {
                system: Some(
                    "You are a helpful AI assistant named SmolLM, trained by Hugging Face".into()
                )
            }
        );
        assert!(
            f.render("Hi")
                .ends_with("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        );
    }

    #[test]
    fn chatml_escaped_newline_and_dynamic_system() {
        // Qwen2.5-style: the first system turn is computed, a later one is literal.
        let t = r"{%- if tools %}{{- '<|im_start|>system\n' }}{{- messages[0]['content'] }}{%- else %}{{- '<|im_start|>system\nYou are Qwen.<|im_end|>\n' }}{%- endif %}";
        assert_eq!(
            ChatFormat::detect(Some(t)),
            ChatFormat::ChatMl {
                system: Some("You are Qwen.".into())
            }
        );
        // No literal system message at all.
        let t = "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n'}}{% endfor %}";
        assert_eq!(
            ChatFormat::detect(Some(t)).render("Q"),
            "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn other_formats() {
        let llama3 = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{{ content }}{% endfor %}";
        assert_eq!(
            ChatFormat::detect(Some(llama3)).render("Hi"),
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        );
        let llama2 = "{% if messages[0]['role'] == 'system' %}{% set system_message = messages[0]['content'] %}{% else %}{% set system_message = 'Be nice.' %}{% endif %}{{ bos_token + '[INST] ' + content + ' [/INST]' }}";
        assert_eq!(
            ChatFormat::detect(Some(llama2)).render("Hi"),
            "[INST] <<SYS>>\nBe nice.\n<</SYS>>\n\nHi [/INST]"
        );
        let mistral = "{{ bos_token }}{% for message in messages %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endfor %}";
        assert_eq!(
            ChatFormat::detect(Some(mistral)).render("Hi"),
            "[INST] Hi [/INST]"
        );
        let vicuna = "A chat between a curious user and an assistant. {% for message in messages %}{% if message['role'] == 'user' %}{{ 'USER: ' + message['content'] + ' ' }}{% else %}{{ 'ASSISTANT: ' + message['content'] + eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";
        assert_eq!(
            ChatFormat::detect(Some(vicuna)).render("Hi"),
            "A chat between a curious user and an assistant. USER: Hi ASSISTANT:"
        );
        assert_eq!(ChatFormat::detect(None).render("Hi"), "Hi");
        assert_eq!(
            ChatFormat::detect(Some("{{ messages }}")).render("Hi"),
            "Hi"
        );
    }
}
