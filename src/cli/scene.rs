//! `gvt scene`: render a generated scene and print its ground truth, for probing a model
//! (`gvt ask scene.png "How many stars are there in the image?"`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use gvt_lens::scene::qa::describe;
use gvt_lens::scene::{MAX_RENDER_SIDE, Scene, SceneRequest};

#[derive(Args, Debug)]
pub struct SceneArgs {
    /// Where to write the PNG.
    #[arg(value_name = "OUT.png")]
    out: PathBuf,
    /// Scene seed (the same seed always gives the same scene).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Side of the square image in pixels.
    #[arg(long, default_value_t = 512)]
    side: u32,
}

pub fn run(args: SceneArgs) -> anyhow::Result<()> {
    if args.side == 0 || args.side > MAX_RENDER_SIDE {
        anyhow::bail!("--side must be 1 to {MAX_RENDER_SIDE} pixels");
    }
    let scene = Scene::generate(args.seed, &SceneRequest::default())?;
    scene
        .render(args.side)?
        .save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!("{}", describe(&scene));
    for object in &scene.objects {
        let b = object.bbox;
        println!(
            "{} {} {} at {} (box {:.3} {:.3} {:.3} {:.3})",
            object.size.name(),
            object.color.name(),
            object.shape.name(),
            object.position().word(),
            b[0],
            b[1],
            b[2],
            b[3]
        );
    }
    Ok(())
}
