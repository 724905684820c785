//! `gvt inspect FILE.gguf`

use std::path::PathBuf;

use clap::Args;

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
    for (key, value) in file.metadata.iter() {
        if args.full {
            println!("  {key} = {value:?}");
        } else {
            println!("  {key} = {value}");
        }
    }
    println!("\ntensors:");
    let width = file.tensors.iter().map(|t| t.name.len()).max().unwrap_or(0);
    for t in &file.tensors {
        println!(
            "  {:width$}  {:>5}  {:>20}  {:>12} bytes",
            t.name,
            t.dtype.name(),
            format!("{:?}", t.shape()),
            t.n_bytes(),
        );
    }
    Ok(())
}
