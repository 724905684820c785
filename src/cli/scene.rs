//! `gvt scene`: render a generated scene and print its ground truth, for probing a model
//! (`gvt ask scene.png "How many stars are there in the image?"`). `--require "exactly 5 red
//! stars"` and the other options ask for the scene a probe needs.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use gvt_scene::qa::describe;
use gvt_scene::{BackgroundKind, Constraint, MAX_RENDER_SIDE, Scene, SceneError, SceneRequest};

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
    /// Objects in all: a number ("6") or a range ("3-9").
    #[arg(long, value_name = "N|MIN-MAX", value_parser = parse_object_count)]
    objects: Option<(usize, usize)>,
    /// A condition the scene must meet, repeatable: "exactly 5 red stars" (or "5 red
    /// stars"), "at least 2 circles", "at most 1 heart", "2 to 4 squares", "no large objects".
    #[arg(long, value_name = "PHRASE", value_parser = parse_constraint)]
    require: Vec<Constraint>,
    /// Background: plain, gradient, textured or speckled (random by default).
    #[arg(long, value_name = "KIND", value_parser = parse_background)]
    background: Option<BackgroundKind>,
    /// Draw it in a varied style, as `gvt train --varied-style-share` does: other shape
    /// proportions, maybe tilted shapes and turned triangles, hard or smooth edges, maybe
    /// outlines, sometimes on white.
    #[arg(long)]
    varied: bool,
}

impl SceneArgs {
    fn request(&self) -> SceneRequest {
        let mut request = SceneRequest::new();
        if let Some((min, max)) = self.objects {
            request = request.objects(min, max);
        }
        request.constraints.clone_from(&self.require);
        request.background = self.background;
        request.varied_style = self.varied;
        request
    }
}

fn parse_object_count(text: &str) -> Result<(usize, usize), String> {
    let number = |s: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|_| format!("expected a number or a range such as 3-9, not \"{text}\""))
    };
    match text.split_once('-') {
        Some((min, max)) => Ok((number(min)?, number(max)?)),
        None => number(text).map(|n| (n, n)),
    }
}

fn parse_constraint(text: &str) -> Result<Constraint, String> {
    text.parse().map_err(|e: SceneError| e.to_string())
}

fn parse_background(text: &str) -> Result<BackgroundKind, String> {
    BackgroundKind::from_name(text).ok_or_else(|| {
        let kinds: Vec<&str> = BackgroundKind::ALL.map(BackgroundKind::name).into();
        format!("expected one of {}", kinds.join(", "))
    })
}

pub fn run(args: SceneArgs) -> anyhow::Result<()> {
    if args.side == 0 || args.side > MAX_RENDER_SIDE {
        anyhow::bail!("--side must be 1 to {MAX_RENDER_SIDE} pixels");
    }
    let scene = Scene::generate(args.seed, &args.request())?;
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
