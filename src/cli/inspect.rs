//! `gvt inspect FILE.gguf`

use std::path::PathBuf;

use clap::Args;
use gvt_core::printable::one_line;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The GGUF file.
    file: PathBuf,
    /// Print every value of long arrays (vocabularies) instead of the first few.
    #[arg(long)]
    full: bool,
}

pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let file = super::load::open_gguf(&args.file)?;
    println!(
        "{}: GGUF v{}, {} metadata keys, {} tensors, {:.1} MB",
        args.file.display(),
        file.version,
        file.metadata.len(),
        file.tensors.len(),
        file.file_size() as f64 / 1e6
    );
    println!("\nmetadata:");
    // Keys, strings and tensor names are the file's text: printed inert.
    for (key, value) in file.metadata.iter() {
        let value = if args.full {
            format!("{value:?}")
        } else {
            value.to_string()
        };
        println!("  {} = {}", one_line(key), one_line(&value));
    }
    println!("\ntensors:");
    let names: Vec<_> = file.tensors.iter().map(|t| one_line(&t.name)).collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    for (t, name) in file.tensors.iter().zip(&names) {
        println!(
            "  {:width$}  {:>5}  {:>20}  {:>12} bytes",
            name,
            t.dtype.name(),
            format!("{:?}", t.shape()),
            t.n_bytes(),
        );
    }
    Ok(())
}
