//! The probe's HTML page: the curves, the table per model and level, and the failures.

use minijinja::value::Serde;
use minijinja::{Environment, Value, context};

use crate::ProbeError;
use crate::failure::failure_path;
use crate::record::Answer;
use crate::report::ProbeReport;
use crate::stats::{CONFUSION_MAX, Metric, total_confusion};

/// The page. The name ends in `.html`, so minijinja escapes every value put in.
const TEMPLATE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>GVT Lens probe: {{ sweep }}</title>
<style>
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; }
.plots img { width: 48%; }
.failures { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; width: 256px; font-size: 13px; }
figcaption { margin-top: 4px; }
</style>
</head>
<body>
<h1>Probe: {{ sweep }}</h1>
<p>Level: {{ parameter }}. {{ per_level }} scenes per level, seed {{ seed }}, asking
"{{ ask }}" questions. Files: <a href="probe.json">probe.json</a>,
<a href="probe.csv">probe.csv</a>, <a href="answers.jsonl">answers.jsonl</a>.</p>
<div class="plots">
{% for m in metrics %}<img src="{{ m }}.svg" alt="{{ m }} against the level">
{% endfor %}</div>
{% for model in models %}
<h2>{{ model.name }}</h2>
<table>
<tr><th>level</th><th>n</th><th>accuracy</th><th>95% interval</th><th>count MAE</th>
<th>attention on target</th><th>target area</th><th>ms per question</th></tr>
{% for s in model.levels %}<tr><td>{{ s.label }}</td><td>{{ s.n }}</td>
<td>{{ "%.1f"|format(s.accuracy * 100) }}%</td>
<td>{{ "%.1f"|format(s.ci_low * 100) }}-{{ "%.1f"|format(s.ci_high * 100) }}%</td>
<td>{% if s.mae is not none %}{{ "%.2f"|format(s.mae) }}{% endif %}</td>
<td>{% if s.attention_on_target is not none %}{{ "%.1f"|format(s.attention_on_target * 100) }}%{% endif %}</td>
<td>{% if s.target_area is not none %}{{ "%.1f"|format(s.target_area * 100) }}%{% endif %}</td>
<td>{{ "%.1f"|format(s.latency_ms) }}</td></tr>
{% endfor %}</table>
{% set rows = confusions[loop.index0] %}{% if rows %}
<h3>Counts over all levels: true count (rows) against the answer (columns)</h3>
<table>
<tr><th></th>{% for k in range(columns) %}<th>{{ k }}{% if loop.last %}+{% endif %}</th>{% endfor %}</tr>
{% for row in rows %}<tr><th>{{ row.truth }}{% if row.truth == columns - 1 %}+{% endif %}</th>{% for v in row.cells %}<td>{{ v or "" }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endif %}
{% endfor %}
<h2>Wrong answers</h2>
<p>The picture the model saw, the answer's attention over it, and the true targets boxed in
green.</p>
<div class="failures">
{% for f in failures %}<figure><img src="{{ f.path }}" width="256" height="256" alt="scene {{ f.index }} of level {{ f.label }}">
<figcaption>{{ f.model }}, level {{ f.label }}, scene {{ f.index }}: {{ f.question }}<br>
truth <b>{{ f.truth }}</b>, answer <b>{{ f.answer }}</b></figcaption></figure>
{% else %}<p>None.</p>
{% endfor %}</div>
</body>
</html>
"#;

/// The page for `report`, showing the pictures of `failures` (paths from [`failure_path`]).
pub fn html(report: &ProbeReport, failures: &[&Answer]) -> Result<String, ProbeError> {
    let mut env = Environment::new();
    env.add_template("probe.html", TEMPLATE)
        .map_err(|e| ProbeError::Spec(format!("the page template: {e}")))?;
    let spec = &report.spec;
    let failures: Vec<_> = failures
        .iter()
        .map(|a| {
            context! {
                // Our own file name: safe, so its slash is not escaped.
                path => Value::from_safe_string(failure_path(a)),
                model => report.models.get(a.model).map_or("?", |m| m.name.as_str()),
                label => spec.sweep.level_label(a.level),
                index => a.index,
                question => &a.question,
                truth => &a.truth,
                answer => &a.answer,
            }
        })
        .collect();
    // Per model, the rows of its summed count confusion that have answers.
    let confusions: Vec<Vec<Value>> = report
        .models
        .iter()
        .map(|curve| {
            total_confusion(&curve.levels)
                .into_iter()
                .flatten()
                .enumerate()
                .filter(|(_, cells)| cells.iter().any(|&c| c > 0))
                .map(|(truth, cells)| context! { truth => truth, cells => cells })
                .collect()
        })
        .collect();
    let metrics: Vec<&str> = Metric::present_in(report)
        .into_iter()
        .map(Metric::name)
        .collect();
    env.get_template("probe.html")
        .and_then(|t| {
            t.render(context! {
                sweep => spec.sweep.name(),
                parameter => &report.parameter,
                per_level => spec.per_level,
                seed => spec.seed,
                ask => spec.ask.name(),
                metrics => metrics,
                models => Serde(&report.models),
                confusions => confusions,
                columns => CONFUSION_MAX + 1,
                failures => failures,
            })
        })
        .map_err(|e| ProbeError::Spec(format!("rendering the page: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::{ProbeSpec, Sweep};

    #[test]
    fn the_page_escapes_what_models_said() {
        let spec = ProbeSpec {
            levels: vec![2],
            ..ProbeSpec::new(Sweep::Count, 1, 0)
        };
        let wrong = Answer {
            model: 0,
            level: 2,
            index: 0,
            scene_seed: 0,
            kind: "count".into(),
            question: "How many stars are there in the image?".into(),
            truth: "2".into(),
            answer: "<script>alert(1)</script>".into(),
            correct: false,
            attention_on_target: Some(0.5),
            target_area: None,
            latency_ms: 3.0,
        };
        let answers = [wrong];
        let report = ProbeReport::from_answers(&spec, &["m<1>".into()], &answers);
        let page = html(&report, &[&answers[0]]).unwrap();
        assert!(!page.contains("<script>") && page.contains("&lt;script&gt;"));
        assert!(page.contains("m&lt;1&gt;"));
        assert!(page.contains("failures/m0-l2-00000.png"));
        assert!(page.contains("accuracy.svg") && page.contains("0.0%"));
        assert!(page.contains("50.0%"), "attention share shown");
        // The count confusion: truth 2, answered 1 (the first number in the text).
        assert!(
            page.contains("<th>2</th><td></td><td>1</td><td></td>"),
            "{page}"
        );
    }
}
