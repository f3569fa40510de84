// The ARVlite WebAR viewer: reads the content's manifest, tracks the printed marker with
// MindAR and plays the active video over it with three.js, as the scene settings say.
// Without a camera it falls back to a plain video player. Tests read window.__arvViewer.

const root = document.getElementById("arv");
const $ = (id) => document.getElementById(id);

const state = {
  status: "loading", // loading | scanning | tracking | fallback | empty | error
  markerFound: false,
  foundAfterMs: null,
  firstFrameAfterMs: null,
  videoCurrentTime: 0,
  error: null,
};
window.__arvViewer = state;

// --- Viewer events: batched, fire-and-forget ---------------------------------------------

const DEVICE_KEY = "arv-device-id";
const queue = [];

function randomId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function deviceId() {
  try {
    const known = localStorage.getItem(DEVICE_KEY);
    if (known) return known;
    const made = randomId();
    localStorage.setItem(DEVICE_KEY, made);
    return made;
  } catch {
    return randomId(); // storage refused (private mode): one id per page
  }
}

const device = deviceId();
const session = randomId();

// Event fields as POST /api/v1/viewer/{public_id}/events takes them.
function report(type, fields = {}) {
  queue.push({ event_id: randomId(), session_id: session, type, occurred_at: new Date().toISOString(), ...fields });
  if (queue.length === 1) setTimeout(flush, 1000);
}

function flush() {
  if (queue.length === 0) return;
  const batch = { device_id: device, platform: "web", events: queue.splice(0) };
  const blob = new Blob([JSON.stringify(batch)], { type: "application/json" });
  if (!navigator.sendBeacon || !navigator.sendBeacon(root.dataset.events, blob)) {
    fetch(root.dataset.events, { method: "POST", body: blob, keepalive: true }).catch(() => {});
  }
}

addEventListener("pagehide", flush);
document.addEventListener("visibilitychange", () => document.hidden && flush());

// --- The page's own controls -------------------------------------------------------------

function say(text) {
  $("arv-message").textContent = text;
}

// The manifest marks the one rendition to draw as a texture; the stacked-alpha one when the
// scene keys with it.
function pickRendition(video, transparency) {
  if (transparency.mode === "alpha" && video.stacked_alpha) return video.stacked_alpha;
  return video.renditions.find((r) => r.texture) ?? video.renditions.at(-1);
}

const PROGRESS_EVERY_SECONDS = 15;

// video_* events carry the seconds watched since the session's previous video event.
function watchPlayback(video, loop) {
  let last = 0;
  let watched = 0;
  const reportVideo = (type) => {
    report(type, { watched_seconds: Math.round(watched * 10) / 10 });
    watched = 0;
  };
  video.addEventListener("playing", () => {
    if (state.firstFrameAfterMs !== null) return;
    state.firstFrameAfterMs = Math.round(performance.now());
    reportVideo("video_start");
  });
  video.addEventListener("timeupdate", () => {
    const step = video.currentTime - last;
    if (step > 0 && step < 1.5) watched += step;
    state.videoCurrentTime = video.currentTime;
    if (loop && step < -0.5) reportVideo("video_complete");
    else if (watched >= PROGRESS_EVERY_SECONDS) reportVideo("video_progress");
    last = video.currentTime;
  });
  video.addEventListener("ended", () => reportVideo("video_complete"));
}

function offerUnmute(video) {
  const button = $("arv-unmute");
  button.hidden = !video.muted;
  button.onclick = () => {
    video.muted = false;
    button.hidden = true;
  };
}

// --- Plain player when there is no camera ------------------------------------------------

function fallback(manifest) {
  state.status = "fallback";
  const player = $("arv-fallback");
  const rendition = pickRendition(manifest.video, { mode: "none" });
  player.poster = manifest.video.poster_url ?? "";
  player.src = rendition.url;
  player.loop = manifest.scene.loop;
  player.hidden = false;
  watchPlayback(player, player.loop);
  $("arv-guide").hidden = true;
}

// --- The AR scene ------------------------------------------------------------------------

const VERTEX = `
varying vec2 vUv;
void main() {
  vUv = uv;
  gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
}`;

// mode 0: opaque; 1: chroma key (distance in the CbCr plane); 2: stacked alpha (colour on
// top, alpha as luma below).
const FRAGMENT = `
uniform sampler2D map;
uniform vec2 uvOffset;
uniform vec2 uvScale;
uniform int mode;
uniform vec3 keyColor;
uniform float similarity;
uniform float smoothness;
varying vec2 vUv;
vec2 chroma(vec3 c) {
  return vec2(-0.169 * c.r - 0.331 * c.g + 0.5 * c.b, 0.5 * c.r - 0.419 * c.g - 0.081 * c.b);
}
void main() {
  vec2 uv = uvOffset + vUv * uvScale;
  vec4 colour;
  float alpha = 1.0;
  if (mode == 2) {
    colour = texture2D(map, vec2(uv.x, 0.5 + uv.y * 0.5));
    alpha = texture2D(map, vec2(uv.x, uv.y * 0.5)).r;
  } else {
    colour = texture2D(map, uv);
    if (mode == 1) {
      float d = distance(chroma(colour.rgb), chroma(keyColor));
      alpha = smoothstep(similarity * 0.5, similarity * 0.5 + smoothness * 0.5 + 0.0001, d);
    }
  }
  gl_FragColor = vec4(colour.rgb, alpha);
}`;

function hexColour(THREE, hex) {
  const c = new THREE.Color(hex);
  return new THREE.Vector3(c.r, c.g, c.b);
}

function material(THREE, video, transparency) {
  const texture = new THREE.VideoTexture(video);
  const modes = { none: 0, chroma_key: 1, alpha: 2 };
  // Without a stacked-alpha rendition, an alpha scene plays its video opaque.
  const mode = transparency.mode === "alpha" && !video.dataset.stacked ? 0 : modes[transparency.mode];
  return new THREE.ShaderMaterial({
    vertexShader: VERTEX,
    fragmentShader: FRAGMENT,
    transparent: mode !== 0,
    toneMapped: false,
    uniforms: {
      map: { value: texture },
      uvOffset: { value: new THREE.Vector2(0, 0) },
      uvScale: { value: new THREE.Vector2(1, 1) },
      mode: { value: mode },
      keyColor: { value: hexColour(THREE, transparency.color ?? "#00ff00") },
      similarity: { value: transparency.similarity ?? 0 },
      smoothness: { value: transparency.smoothness ?? 0 },
    },
  });
}

// The video's plane in marker widths (the marker is 1 wide) and the part of the frame it
// shows, for `fit`.
function layout(fit, markerAspect, videoAspect) {
  const plane = { width: 1, height: markerAspect, uvOffset: [0, 0], uvScale: [1, 1] };
  const markerRatio = 1 / markerAspect;
  if (fit === "contain") {
    if (videoAspect > markerRatio) plane.height = 1 / videoAspect;
    else plane.width = markerAspect * videoAspect;
  } else if (fit === "cover") {
    if (videoAspect > markerRatio) {
      const u = markerRatio / videoAspect;
      plane.uvScale = [u, 1];
      plane.uvOffset = [(1 - u) / 2, 0];
    } else {
      const v = videoAspect / markerRatio;
      plane.uvScale = [1, v];
      plane.uvOffset = [0, (1 - v) / 2];
    }
  }
  return plane;
}

function videoElement(manifest) {
  const { video, scene } = manifest;
  const rendition = pickRendition(video, scene.transparency);
  const element = document.createElement("video");
  element.crossOrigin = "anonymous";
  element.playsInline = true;
  element.muted = true;
  element.loop = scene.loop;
  element.preload = "auto";
  element.src = rendition.url;
  element.dataset.stacked = rendition === video.stacked_alpha ? "1" : "";
  return element;
}

// Sized once the video's own dimensions are known (a stacked frame is twice the picture).
function fitPlane(THREE, mesh, manifest, element) {
  const { scene, marker } = manifest;
  const pictureHeight = element.videoHeight / (element.dataset.stacked ? 2 : 1);
  const markerAspect = marker.width_px ? marker.height_px / marker.width_px : 1;
  const plane = layout(scene.fit, markerAspect, element.videoWidth / pictureHeight);
  mesh.geometry.dispose();
  mesh.geometry = new THREE.PlaneGeometry(plane.width, plane.height);
  mesh.material.uniforms.uvOffset.value.set(...plane.uvOffset);
  mesh.material.uniforms.uvScale.value.set(...plane.uvScale);
}

function videoMesh(THREE, manifest, element) {
  const mesh = new THREE.Mesh(
    new THREE.PlaneGeometry(1, 1),
    material(THREE, element, manifest.scene.transparency),
  );
  const p = manifest.scene.placement;
  mesh.position.set(p.offset_x, p.offset_y, p.offset_z);
  mesh.scale.setScalar(p.scale);
  mesh.rotation.z = THREE.MathUtils.degToRad(p.rotation_degrees);
  const fit = () => fitPlane(THREE, mesh, manifest, element);
  if (element.readyState >= 1) fit();
  else element.addEventListener("loadedmetadata", fit, { once: true });
  return mesh;
}

function play(element, autoplay) {
  if (!autoplay && element.paused && element.currentTime === 0) {
    $("arv-play").hidden = false;
    $("arv-play").onclick = () => {
      $("arv-play").hidden = true;
      element.muted = false;
      element.play();
    };
    return;
  }
  element.play().then(() => offerUnmute(element), () => offerUnmute(element));
}

function onLost(element, holder, behaviour) {
  $("arv-play").hidden = true; // offered again when the marker is back
  if (behaviour === "keep_playing") return; // stays where it was last seen, playing
  holder.visible = false;
  element.pause();
  if (behaviour === "hide") element.currentTime = 0;
}

let cameraOnAt = null; // when the camera and the tracker started

async function startAR(manifest, mindUrl) {
  const [THREE, { MindARThree }] = await Promise.all([
    import("three"),
    import("mind-ar/image-three"),
  ]);
  const { smoothing, on_marker_lost: lostBehaviour, autoplay } = manifest.scene;
  const mindar = new MindARThree({
    container: $("arv-stage"),
    imageTargetSrc: await mindUrl,
    maxTrack: 1,
    uiLoading: "no",
    uiScanning: "no",
    uiError: "no",
    filterMinCF: smoothing.filter_min_cf,
    filterBeta: smoothing.filter_beta,
    warmupTolerance: smoothing.warmup_tolerance,
    missTolerance: smoothing.miss_tolerance,
  });
  const element = videoElement(manifest);
  watchPlayback(element, element.loop);
  // A group of our own follows the anchor, so a video may stay where it was last seen.
  const holder = new THREE.Group();
  holder.matrixAutoUpdate = false;
  holder.visible = false;
  holder.add(videoMesh(THREE, manifest, element));
  mindar.scene.add(holder);

  const anchor = mindar.addAnchor(0);
  anchor.onTargetUpdate = () => {
    if (anchor.visible) holder.matrix.copy(anchor.group.matrix);
  };
  anchor.onTargetFound = () => {
    holder.matrix.copy(anchor.group.matrix);
    holder.visible = true;
    state.status = "tracking";
    $("arv-guide").hidden = true;
    if (!state.markerFound) {
      state.markerFound = true;
      state.foundAfterMs = Math.round(performance.now());
      const sinceCamera = state.foundAfterMs - (cameraOnAt ?? state.foundAfterMs);
      report("marker_found", { time_to_detect_ms: Math.max(0, Math.round(sinceCamera)) });
    }
    play(element, autoplay);
  };
  anchor.onTargetLost = () => {
    state.status = "scanning";
    $("arv-guide").hidden = false;
    report("marker_lost");
    onLost(element, holder, lostBehaviour);
  };

  await mindar.start();
  cameraOnAt = performance.now();
  state.status = "scanning";
  $("arv-guide").classList.add("scanning");
  mindar.renderer.setAnimationLoop(() => mindar.renderer.render(mindar.scene, mindar.camera));
}

// --- Start -------------------------------------------------------------------------------

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return response.json();
}

// The .mind file downloads as soon as this script runs, from the link the page carries,
// alongside the manifest and the tracker's start; MindAR then reads it from memory.
async function preloadTarget(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`marker target answered ${response.status}`);
  return URL.createObjectURL(await response.blob());
}

const targetPreload = root.dataset.mind ? preloadTarget(root.dataset.mind) : null;
targetPreload?.catch(() => {}); // awaited (and reported) by startAR

async function main() {
  report("page_open");
  const manifest = await fetchJson(root.dataset.manifest);
  if (!manifest.video) {
    state.status = "empty";
    say("Nothing is playing here right now. Come back later.");
    return;
  }
  const mindUrl = targetPreload ?? preloadTarget(manifest.marker.mind_url);
  mindUrl.catch(() => {}); // awaited (and reported) by startAR
  try {
    await startAR(manifest, mindUrl);
  } catch (error) {
    state.error = String(error ?? "camera unavailable");
    fallback(manifest);
  }
}

main().catch((error) => {
  state.status = "error";
  state.error = String(error);
  say("This viewer could not start. Check your connection and reload the page.");
});
