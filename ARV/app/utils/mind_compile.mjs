// Compile one marker image into a MindAR tracker target (.mind), as the viewer loads it.
//
//   node mind_compile.mjs <image> <output.mind> <node_modules>
//
// On success: the target is written to <output.mind> and one JSON line goes to stdout,
//   {"width", "height", "matching_points", "tracking_points": [per tracking scale]}.
// On failure: a non-zero exit status and one JSON line {"error": "..."} on stdout.
// mind-ar and canvas are loaded from <node_modules>, so the caller decides which install
// is used. One image per process: the compiler runs on tfjs's CPU backend in this thread
// (it is known to crash inside worker threads) and is freed by exiting.
import { writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

// Libraries print banners and progress with console.log (tfjs suggests tfjs-node); stdout
// carries the one result line only.
console.log = console.info = console.error;

const reply = (result) => process.stdout.write(`${JSON.stringify(result)}\n`);

async function compile(imagePath, outputPath, nodeModules) {
  const { loadImage } = createRequire(join(nodeModules, "noop.js"))("canvas");
  const compilerUrl = pathToFileURL(
    join(nodeModules, "mind-ar", "src", "image-target", "offline-compiler.js"),
  );
  const { OfflineCompiler } = await import(compilerUrl.href);

  const image = await loadImage(imagePath);
  const compiler = new OfflineCompiler();
  const [target] = await compiler.compileImageTargets([image], () => {});
  await writeFile(outputPath, compiler.exportData());

  const matchingPoints = target.matchingData.reduce(
    (sum, keyframe) => sum + keyframe.maximaPoints.length + keyframe.minimaPoints.length,
    0,
  );
  return {
    width: target.targetImage.width,
    height: target.targetImage.height,
    matching_points: matchingPoints,
    tracking_points: target.trackingData.map((scale) => scale.points.length),
  };
}

const [imagePath, outputPath, nodeModules] = process.argv.slice(2);
if (!imagePath || !outputPath || !nodeModules) {
  reply({ error: "usage: mind_compile.mjs <image> <output.mind> <node_modules>" });
  process.exit(2);
}
try {
  reply(await compile(imagePath, outputPath, nodeModules));
} catch (error) {
  reply({ error: String(error?.message ?? error).split("\n")[0] });
  process.exitCode = 1;
}
