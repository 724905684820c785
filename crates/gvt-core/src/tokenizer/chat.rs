//! Chat prompts from a GGUF's `tokenizer.chat_template`, a Jinja template rendered with
//! minijinja the way Hugging Face transformers renders it (`apply_chat_template`), so that a
//! model gets exactly the text it was trained on:
//!
//! - `trim_blocks` and `lstrip_blocks` on, no autoescaping, Jinja2's loop controls;
//! - the globals transformers adds: `raise_exception(message)` and `strftime_now(format)`;
//! - Python's string and dict methods (`.strip()`, `.startswith()`, `.items()`, ...), which
//!   Jinja2 templates call because Jinja2 runs on Python objects;
//! - the variables transformers passes: `messages` (`role`/`content` maps),
//!   `add_generation_prompt`, `tools` and `documents` (always none here), and `bos_token`/
//!   `eos_token` (the tokenizer's texts for them; undefined when it has none).
//!
//! Known difference: minijinja's `tojson` escapes `<`, `>`, `&` and `'`, transformers' does
//! not. Templates use it for tool definitions and tool calls, which this API does not pass.

/// Vicuna v1.1's conversation format (FastChat's `vicuna_v1.1`), which GVT-7B's LLM was
/// tuned with: the system sentence, then `USER: ... ASSISTANT:` turns. `gvt convert` writes
/// it into GVT files; the text is the template transformers renders (see
/// `tests/fixtures/tokenizer/chat_templates.json`).
pub const VICUNA_V1_1: &str = r#"{% if messages[0]['role'] == 'system' %}
    {% set system_message = messages[0]['content'] %}
    {% set loop_messages = messages[1:] %}
{% else %}
    {% set system_message = "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions." %}
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
"#;

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, Error, ErrorKind, Value, context};

use super::{KEY_CHAT_TEMPLATE, TokenizerError};

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant` (templates may know others, e.g. `tool`).
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }

    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// A compiled `tokenizer.chat_template` and the token texts it is rendered with.
#[derive(Clone)]
pub(crate) struct ChatTemplate {
    env: Environment<'static>,
    bos_token: Option<String>,
    eos_token: Option<String>,
    /// Whether a leading `bos_token` is cut from renderings: set when the tokenizer adds
    /// BOS itself, so that templates which write `{{ bos_token }}` (Llama 2 and 3, Mistral)
    /// do not give two (llama.cpp does the same).
    strip_bos: bool,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("bos_token", &self.bos_token)
            .field("eos_token", &self.eos_token)
            .field("strip_bos", &self.strip_bos)
            .finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// Compiles `source` and checks that it renders one user turn, so that a broken template
    /// fails when the file is loaded rather than when a question is asked. A template that
    /// refuses that turn with `raise_exception` is accepted: it may still take other
    /// conversations.
    pub(crate) fn new(
        source: &str,
        bos_token: Option<&str>,
        eos_token: Option<&str>,
        strip_bos: bool,
    ) -> Result<Self, TokenizerError> {
        check_source(source)?;
        let mut env = Environment::new();
        env.set_fuel(Some(FUEL));
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(template_error)?;
        env.set_syntax(syntax);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_template_owned(KEY_CHAT_TEMPLATE, source.to_string())
            .map_err(template_error)?;
        let template = Self {
            env,
            bos_token: bos_token.map(str::to_string),
            eos_token: eos_token.map(str::to_string),
            strip_bos: strip_bos && bos_token.is_some(),
        };
        match template.render(&[ChatMessage::user("Hello")], true) {
            Ok(_) | Err(TokenizerError::ChatTemplateRejected(_)) => Ok(template),
            Err(e) => Err(e),
        }
    }

    /// The conversation as the template writes it, followed by the assistant's turn opening
    /// when `add_generation_prompt` is set.
    pub(crate) fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, TokenizerError> {
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| context! { role => m.role.as_str(), content => m.content.as_str() })
            .collect();
        let token = |t: &Option<String>| t.as_deref().map_or(Value::UNDEFINED, Value::from);
        let ctx = context! {
            messages,
            add_generation_prompt,
            tools => Value::from(()),
            documents => Value::from(()),
            bos_token => token(&self.bos_token),
            eos_token => token(&self.eos_token),
        };
        let mut out = Bounded::default();
        let rendered = self
            .env
            .get_template(KEY_CHAT_TEMPLATE)
            .and_then(|t| t.render_captured_to(ctx, &mut out).map(drop));
        if out.overflowed {
            return Err(TokenizerError::ChatTemplate(format!(
                "it writes more than {} MB for this conversation",
                MAX_OUTPUT_BYTES >> 20
            )));
        }
        rendered.map_err(template_error)?;
        let text = String::from_utf8(out.text).map_err(|_| {
            TokenizerError::ChatTemplate("the chat template wrote invalid UTF-8".into())
        })?;
        match &self.bos_token {
            Some(bos) if self.strip_bos => match text.strip_prefix(bos.as_str()) {
                Some(rest) => Ok(rest.to_string()),
                None => Ok(text),
            },
            _ => Ok(text),
        }
    }
}

/// Bounds on what a file's template may cost, far above what real chat templates need (a few
/// KB of source, hundreds of instructions and a few KB of text per turn):
/// - the source's size;
/// - minijinja's fuel: one unit per instruction and per 64 bytes of data the template makes
///   (strings, lists, output), checked before an allocation of known size, so loops and
///   string bombs (`'x' * 100000000`, repeated doubling) stop at about 64 MB of work;
/// - the rendered text, which the tokenizer encodes next (its cost grows with the length).
const MAX_SOURCE_BYTES: usize = 256 << 10;
const FUEL: u64 = 1_000_000;
const MAX_OUTPUT_BYTES: usize = 4 << 20;

/// minijinja counts columns in 16 bits (and overflows past them when reporting an error):
/// longer lines are refused, with a margin.
const MAX_LINE_CHARS: usize = 60_000;

/// Refuses a template too long to be a chat template, or with a line longer than the
/// template engine can count.
fn check_source(source: &str) -> Result<(), TokenizerError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(TokenizerError::ChatTemplate(format!(
            "it is {} KB; the limit is {} KB",
            source.len() >> 10,
            MAX_SOURCE_BYTES >> 10
        )));
    }
    if let Some(line) = source
        .lines()
        .map(|l| l.chars().count())
        .find(|&n| n > MAX_LINE_CHARS)
    {
        return Err(TokenizerError::ChatTemplate(format!(
            "it has a line of {line} characters; the limit is {MAX_LINE_CHARS}"
        )));
    }
    Ok(())
}

/// A writer that fails past [`MAX_OUTPUT_BYTES`], which stops the render.
#[derive(Default)]
struct Bounded {
    text: Vec<u8>,
    overflowed: bool,
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.text.len() + buf.len() > MAX_OUTPUT_BYTES {
            self.overflowed = true;
            return Err(std::io::Error::other("the rendered prompt is too long"));
        }
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What `raise_exception` attaches to its error, so that a template's own refusal can be told
/// apart from a failure of the template.
#[derive(Debug)]
struct Rejected;

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("raised by the template")
    }
}

impl std::error::Error for Rejected {}

fn raise_exception(message: String) -> Result<Value, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message).with_source(Rejected))
}

fn template_error(err: Error) -> TokenizerError {
    let rejected = std::error::Error::source(&err).is_some_and(|s| s.is::<Rejected>());
    match (rejected, err.detail()) {
        (true, Some(message)) => TokenizerError::ChatTemplateRejected(message.to_string()),
        _ => TokenizerError::ChatTemplate(err.to_string()),
    }
}

/// `strftime_now(format)`: the current time as Python's `datetime.now().strftime(format)`
/// writes it (Llama 3.1+ templates put today's date in the system turn). UTC, as there is
/// no portable local time zone here.
fn strftime_now(format: &str) -> Result<String, Error> {
    let now = web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    strftime(format, now)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// `format` with C's strftime directives for dates and times of day (the ones date
/// strings use) filled in for `unix_secs` (UTC); any other directive is an error.
fn strftime(format: &str, unix_secs: u64) -> Result<String, Error> {
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let before_month = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334][month - 1];
    let yday = before_month + day + usize::from(leap && month > 2);
    // 1970-01-01 was a Thursday.
    let weekday = ((days + 4) % 7) as usize;
    let (hour, minute, second) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&year.to_string()),
            Some('y') => out.push_str(&format!("{:02}", year % 100)),
            Some('m') => out.push_str(&format!("{month:02}")),
            Some('d') => out.push_str(&format!("{day:02}")),
            Some('j') => out.push_str(&format!("{yday:03}")),
            Some('B') => out.push_str(MONTHS[month - 1]),
            Some('b') => out.push_str(&MONTHS[month - 1][..3]),
            Some('A') => out.push_str(WEEKDAYS[weekday]),
            Some('a') => out.push_str(&WEEKDAYS[weekday][..3]),
            Some('H') => out.push_str(&format!("{hour:02}")),
            Some('I') => out.push_str(&format!("{:02}", (hour + 11) % 12 + 1)),
            Some('p') => out.push_str(if hour < 12 { "AM" } else { "PM" }),
            Some('M') => out.push_str(&format!("{minute:02}")),
            Some('S') => out.push_str(&format!("{second:02}")),
            Some('%') => out.push('%'),
            other => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "strftime_now: unsupported directive %{}",
                        other.map(String::from).unwrap_or_default()
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// (year, month 1-12, day 1-31) of the day `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, usize, usize) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as usize;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as usize;
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strftime_matches_python() {
        // Values from Python: time.strftime(format, time.gmtime(secs)).
        let cases = [
            (
                0,
                "%Y-%m-%d %H:%M:%S %a %A %b %B %j %y %I %p",
                "1970-01-01 00:00:00 Thu Thursday Jan January 001 70 12 AM",
            ),
            (1_721_952_000, "%d %b %Y", "26 Jul 2024"),
            (951_782_400, "%Y-%m-%d %j %A", "2000-02-29 060 Tuesday"),
            (
                4_107_542_399,
                "%Y-%m-%d %H:%M:%S %j %I %p 100%%",
                "2100-02-28 23:59:59 059 11 PM 100%",
            ),
            (
                1_735_689_599,
                "%d %B %Y, %a %j",
                "31 December 2024, Tue 366",
            ),
        ];
        for (secs, format, expected) in cases {
            assert_eq!(strftime(format, secs).unwrap(), expected, "{secs}");
        }
        let e = strftime("%Q", 0).unwrap_err().to_string();
        assert!(e.contains("%Q"), "{e}");
    }

    #[test]
    fn strftime_now_is_today() {
        let year = strftime_now("%Y").unwrap();
        assert!(year.len() == 4 && year.as_str() >= "2024", "{year}");
    }
}
