//! `envctl show ENV`: print the concrete resources one environment expands to.

use std::io::Write;

use crate::args::{GlobalArgs, OutputFormat, ShowArgs};
use crate::context::{expand, load_spec};
use crate::errors::Outcome;
use crate::render;

pub fn run(global: &GlobalArgs, args: ShowArgs) -> anyhow::Result<Outcome> {
    let ShowArgs {
        environment,
        output,
    } = args;
    let loaded = load_spec(&global.spec)?;
    let desired = expand(&loaded, &environment)?;
    let text = match output {
        OutputFormat::Text => render::desired_text(&desired),
        OutputFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&render::desired_json(&desired)?)?
        ),
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(Outcome::Success)
}
