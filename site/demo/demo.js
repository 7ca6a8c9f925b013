/*
 * The website's drawing demo (site/demo.md): draw a digit, see the 28x28 image the model
 * receives, its digit probabilities, whether it answers or declines ("not sure", "not a
 * digit"), and what the network sees: the feature maps of both convolutions and a Grad-CAM
 * map of the top digit over the input.
 *
 * The model is models/deployed_cnn.demo.onnx (notebook 11, helpers/demo_model.py): the
 * deployed CNN with its feature maps and Grad-CAM as extra outputs, run in the browser by
 * onnxruntime-web (WebAssembly). preprocess.js turns the drawing into MNIST's form;
 * decline.js applies the model's decline rule (models/deployed_cnn.decline.json). `make site`
 * copies these files, the model, the rule and the runtime into _static/demo/ of the built
 * site, with a manifest.json naming them, so the page loads nothing from outside the site.
 *
 * For tests and the curious, window.digitsDemo exposes the state:
 * - `ready`: a promise, resolved when the model is loaded;
 * - `drawing`: a number that grows with every change of the canvas (a stroke segment, a
 *   cleared canvas, an image dropped);
 * - `state`: "loading", "ready" (nothing drawn), "drawing" (a classification of the current
 *   drawing is pending or running), "done" (`lastResult` is that of the current drawing),
 *   "error" or "unavailable";
 * - `lastResult`: the latest classification, with `drawing` (the number of the drawing it
 *   read), `input` (784 pixels), `probabilities` (the model's K outputs), `digit` (null when
 *   declined), `declined`, `topGuess`, `topProbability`, `digitProbabilities`, `notDigit`,
 *   `featureMaps` ([{height, width, channels, data}], data in the model's (H, W, C) order),
 *   `attribution` ({digit, height, width, data, large: the 28x28 map shown}) and timings;
 *   `blank: true` instead when the drawing has no ink;
 * - `results`: how many classifications finished; `rule`: the decline rule in use.
 */
(function () {
  "use strict";

  const BASE = new URL("./", document.currentScript.src); // .../_static/demo/
  const PEN_WIDTH = 18; // canvas pixels, on a 280x280 canvas (as notebook 08's canvas)
  const DEBOUNCE_MS = 40; // classify at most this often while the pen moves, and after it stops
  const root = document.getElementById("digits-demo");
  const canvas = document.getElementById("demo-canvas");
  const inputCanvas = document.getElementById("demo-input");
  const attributionCanvas = document.getElementById("demo-attribution");
  const attributionDigit = document.getElementById("demo-attribution-digit");
  const mapCanvases = [document.getElementById("demo-maps-1"), document.getElementById("demo-maps-2")];
  const status = document.getElementById("demo-status");
  const answer = document.getElementById("demo-answer");
  const bars = document.getElementById("demo-bars");
  const barsCaption = document.getElementById("demo-bars-caption");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const demo = { results: 0, drawing: 0, lastResult: null, state: "loading", rule: null };
  window.digitsDemo = demo;

  let session = null;
  let strokes = 0;
  let pen = false;
  let last = null;
  let timer = null;
  let busy = false;

  function setState(state, text) {
    demo.state = state;
    root.dataset.state = state;
    if (text !== undefined) status.textContent = text;
  }

  // Drawing ------------------------------------------------------------------------------

  function changed() { // the canvas changed: a new drawing number, a classification pending
    demo.drawing += 1;
    if (!session) return;
    setState(strokes === 0 ? "ready" : "drawing");
    if (strokes > 0) schedule();
  }

  function clearCanvas() {
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, canvas.width, canvas.height);
    strokes = 0;
  }

  function canvasPoint(event) {
    const rect = canvas.getBoundingClientRect();
    return [
      ((event.clientX - rect.left) * canvas.width) / rect.width,
      ((event.clientY - rect.top) * canvas.height) / rect.height,
    ];
  }

  function drawSegment(from, to) {
    context.strokeStyle = "#000000";
    context.fillStyle = "#000000";
    context.lineWidth = PEN_WIDTH;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.beginPath();
    context.moveTo(from[0], from[1]);
    context.lineTo(to[0], to[1]);
    context.stroke();
  }

  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    pen = true;
    last = canvasPoint(event);
    drawSegment(last, last); // a dot for a tap
    strokes += 1;
    changed();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!pen) return;
    const point = canvasPoint(event);
    drawSegment(last, point);
    last = point;
    changed();
  });
  const stop = () => { pen = false; };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);

  document.getElementById("demo-clear").addEventListener("click", () => {
    clearCanvas();
    demo.lastResult = null;
    showResult(null);
    changed();
  });

  // An image file (dropped, pasted or opened) is drawn onto the canvas, fitted and centred.

  async function loadImage(blob) {
    const bitmap = await createImageBitmap(blob);
    clearCanvas();
    const scale = Math.min(canvas.width / bitmap.width, canvas.height / bitmap.height);
    const width = bitmap.width * scale;
    const height = bitmap.height * scale;
    context.drawImage(bitmap, (canvas.width - width) / 2, (canvas.height - height) / 2, width, height);
    bitmap.close();
    strokes = 1;
    changed();
  }

  canvas.addEventListener("dragover", (event) => event.preventDefault());
  canvas.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = Array.from(event.dataTransfer.files).find((f) => f.type.startsWith("image/"));
    if (file) loadImage(file);
  });
  document.addEventListener("paste", (event) => {
    const item = Array.from(event.clipboardData.items).find((i) => i.type.startsWith("image/"));
    if (item) loadImage(item.getAsFile());
  });
  document.getElementById("demo-file").addEventListener("change", (event) => {
    if (event.target.files.length) loadImage(event.target.files[0]);
    event.target.value = "";
  });

  // Classifying --------------------------------------------------------------------------

  function schedule() { // one classification at a time, at most every DEBOUNCE_MS; the latest drawing wins
    if (timer === null) timer = setTimeout(run, DEBOUNCE_MS);
  }

  async function run() {
    timer = null;
    if (busy) return; // the running classification reschedules when it finishes
    busy = true;
    try {
      await classify();
    } catch (error) {
      setState("error", `The drawing could not be classified: ${error.message}`);
      throw error;
    } finally {
      busy = false;
    }
    if (strokes > 0 && (!demo.lastResult || demo.lastResult.drawing !== demo.drawing)) {
      schedule(); // the drawing changed while the model ran
    } else if (strokes > 0) {
      setState("done");
    }
  }

  function featureMapsOf(outputs) {
    const maps = [];
    for (let number = 1; outputs[`feature_maps_${number}`]; number++) {
      const tensor = outputs[`feature_maps_${number}`];
      const [, height, width, channels] = tensor.dims;
      maps.push({ height, width, channels, data: tensor.data });
    }
    return maps;
  }

  async function classify() {
    if (!session || strokes === 0) return;
    const drawing = demo.drawing;
    const started = performance.now();
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
    const steps = window.DigitsPreprocess.preprocessSteps(pixels.data, canvas.width, canvas.height);
    const preprocessed = performance.now();
    if (!steps) {
      demo.lastResult = { drawing, blank: true };
      demo.results += 1;
      showResult(null);
      return;
    }
    const input = steps.mnist.data;
    const tensor = new ort.Tensor("float32", input, [1, 28, 28, 1]);
    const outputs = await session.run({ image: tensor });
    const modelDone = performance.now();
    const probabilities = Array.from(outputs.probabilities.data);
    if (!demo.rule) demo.rule = window.DigitsDecline.alwaysAnswer(probabilities.length);
    const decision = window.DigitsDecline.decide(probabilities, demo.rule);
    const cam = outputs.attribution;
    const [, camHeight, camWidth] = cam.dims;
    const attribution = {
      digit: Number(outputs.attribution_digit.data[0]), height: camHeight, width: camWidth,
      data: cam.data, large: upsample(cam.data, camHeight, camWidth, 28),
    };
    demo.lastResult = {
      drawing, input: Array.from(input), probabilities, ...decision,
      featureMaps: featureMapsOf(outputs), attribution,
      preprocessMs: preprocessed - started, modelMs: modelDone - preprocessed,
    };
    showResult(demo.lastResult);
    demo.lastResult.drawMs = performance.now() - modelDone;
    demo.results += 1;
  }

  /** A (height x width) map enlarged to size x size by linear interpolation with the corners
   * aligned, then min-max normalised: helpers.demo_model.upsample (tf-keras-vis' zoom). */
  function upsample(data, height, width, size) {
    const out = new Float32Array(size * size);
    for (let i = 0; i < size; i++) {
      const y = (i * (height - 1)) / (size - 1);
      const top = Math.min(Math.floor(y), height - 2);
      const dy = y - top;
      for (let j = 0; j < size; j++) {
        const x = (j * (width - 1)) / (size - 1);
        const left = Math.min(Math.floor(x), width - 2);
        const dx = x - left;
        const at = (r, c) => data[(top + r) * width + left + c];
        out[i * size + j] = (1 - dy) * (1 - dx) * at(0, 0) + (1 - dy) * dx * at(0, 1)
          + dy * (1 - dx) * at(1, 0) + dy * dx * at(1, 1);
      }
    }
    let low = Infinity;
    let high = -Infinity;
    for (const value of out) { low = Math.min(low, value); high = Math.max(high, value); }
    for (let k = 0; k < out.length; k++) out[k] = (out[k] - low) / (high - low + 1e-7); // as tf-keras-vis
    return out;
  }

  // Showing ------------------------------------------------------------------------------

  const barRows = [];
  function makeBar(label, className) {
    const row = document.createElement("div");
    row.className = `demo-bar-row ${className || ""}`;
    row.innerHTML = `<span class="demo-bar-label">${label}</span>`
      + '<span class="demo-bar-track"><span class="demo-bar"></span></span>'
      + '<span class="demo-bar-value"></span>';
    bars.appendChild(row);
    return row;
  }
  for (let digit = 0; digit < 10; digit++) barRows.push(makeBar(String(digit)));
  let notDigitRow = null;

  function setBar(row, probability, shown) {
    row.querySelector(".demo-bar").style.width = `${(100 * (probability || 0)).toFixed(1)}%`;
    row.querySelector(".demo-bar-value").textContent = shown ? `${(100 * probability).toFixed(1)}%` : "";
  }

  function showInput(input) {
    const inputContext = inputCanvas.getContext("2d");
    const pixels = inputContext.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const value = Math.round(255 * (input ? input[i] : 0));
      pixels.data.set([value, value, value, 255], 4 * i);
    }
    inputContext.putImageData(pixels, 0, 0);
  }

  // A heat colour map (black, red, yellow, white) for the attribution map.
  function heat(value) {
    const v = Math.min(1, Math.max(0, value));
    return [Math.min(1, 3 * v), Math.min(1, Math.max(0, 3 * v - 1)), Math.max(0, 3 * v - 2)]
      .map((c) => Math.round(255 * c));
  }

  function showAttribution(input, attribution) {
    const out = attributionCanvas.getContext("2d");
    const pixels = out.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const ink = input ? input[i] : 0;
      const value = attribution ? attribution.large[i] : 0;
      const [r, g, b] = heat(value);
      const alpha = attribution ? 0.75 * Math.sqrt(value) : 0; // the input shows through weak evidence
      const grey = 150 * ink;
      pixels.data.set([
        Math.round(alpha * r + (1 - alpha) * grey), Math.round(alpha * g + (1 - alpha) * grey),
        Math.round(alpha * b + (1 - alpha) * grey), 255], 4 * i);
    }
    out.putImageData(pixels, 0, 0);
  }

  /** One layer's feature maps as a grid of small squares on one canvas, one brightness
   * scale for the whole layer: 0 black, the layer's largest value white, and in between the
   * square root (so that weak responses still show). */
  function showMaps(target, maps) {
    if (!maps) {
      const c = target.getContext("2d");
      c.fillStyle = "#f6f8fa";
      c.fillRect(0, 0, target.width, target.height);
      return;
    }
    const { height, width, channels, data } = maps;
    const columns = channels <= 32 ? 8 : 16;
    const rows = Math.ceil(channels / columns);
    const gap = width >= 16 ? 2 : 1;
    const fullWidth = columns * (width + gap) - gap;
    const fullHeight = rows * (height + gap) - gap;
    if (target.width !== fullWidth || target.height !== fullHeight) {
      target.width = fullWidth;
      target.height = fullHeight;
      const scale = Math.max(1, Math.floor(460 / fullWidth));
      target.style.width = `${fullWidth * scale}px`;
      target.style.height = `${fullHeight * scale}px`;
    }
    let low = Infinity;
    let high = -Infinity;
    for (const value of data) { low = Math.min(low, value); high = Math.max(high, value); }
    low = Math.min(low, 0);
    const span = high > low ? high - low : 1;
    const c = target.getContext("2d");
    const pixels = c.createImageData(fullWidth, fullHeight);
    pixels.data.fill(255); // white gaps
    for (let channel = 0; channel < channels; channel++) {
      const x0 = (channel % columns) * (width + gap);
      const y0 = Math.floor(channel / columns) * (height + gap);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const value = Math.round(255 * Math.sqrt((data[(y * width + x) * channels + channel] - low) / span));
          const k = 4 * ((y0 + y) * fullWidth + x0 + x);
          pixels.data[k] = value;
          pixels.data[k + 1] = value;
          pixels.data[k + 2] = value;
        }
      }
    }
    c.putImageData(pixels, 0, 0);
  }

  function percent(probability) {
    return `${(100 * probability).toFixed(1)}%`;
  }

  function showResult(result) {
    const shown = result && !result.blank;
    showInput(shown ? result.input : null);
    barRows.forEach((row, digit) => {
      setBar(row, shown ? result.digitProbabilities[digit] : 0, shown);
      row.classList.toggle("demo-bar-best", Boolean(shown) && digit === result.digit);
      row.classList.toggle("demo-bar-guess", Boolean(shown) && result.digit === null
        && digit === result.topGuess);
    });
    if (notDigitRow) {
      setBar(notDigitRow, shown ? result.notDigit : 0, shown);
      notDigitRow.classList.toggle("demo-bar-declined", Boolean(shown)
        && result.declined === window.DigitsDecline.NOT_A_DIGIT);
    }
    mapCanvases.forEach((target, k) => {
      const maps = shown ? result.featureMaps[k] : null;
      showMaps(target, maps);
      const caption = document.getElementById(`demo-maps-${k + 1}-caption`);
      if (maps && !caption.dataset.sized) {
        caption.insertAdjacentHTML("beforeend", ` <span class="demo-dims">(${maps.channels} maps of `
          + `${maps.height}x${maps.width})</span>`);
        caption.dataset.sized = "yes";
      }
    });
    showAttribution(shown ? result.input : null, shown ? result.attribution : null);
    if (shown && result.declined) root.dataset.declined = result.declined;
    else delete root.dataset.declined;
    if (!shown) {
      answer.textContent = "Draw a digit from 0 to 9 in the box.";
      attributionDigit.textContent = "the top digit";
      return;
    }
    attributionDigit.textContent = `a ${result.attribution.digit}`;
    const guess = `<strong>${result.topGuess}</strong> (${percent(result.topProbability)})`;
    if (result.declined === window.DigitsDecline.NOT_A_DIGIT) {
      answer.innerHTML = `<span class="demo-declined">Not a digit</span> `
        + `(${percent(result.notDigit)}). Top guess: ${guess}`;
    } else if (result.declined === window.DigitsDecline.NOT_SURE) {
      answer.innerHTML = `<span class="demo-declined">Not sure.</span> Top guess: ${guess}`;
    } else {
      answer.innerHTML = `The model reads a <strong>${result.digit}</strong> (${percent(result.topProbability)})`;
    }
    status.textContent = `${demo.modelInfo}. Last drawing: preprocessing `
      + `${result.preprocessMs.toFixed(0)} ms, model ${result.modelMs.toFixed(1)} ms.`;
  }

  // Loading ------------------------------------------------------------------------------

  function describeRule(rule, manifest) {
    if (manifest.rule_missing) return "The decline rule is missing from this build: the page always answers";
    const parts = [`temperature ${rule.temperature}`, `answers from ${percent(rule.minConfidence)}`];
    if (rule.maxNotDigit !== null) parts.push(`"not a digit" from ${percent(rule.maxNotDigit)}`);
    return `Decline rule: ${parts.join(", ")}`;
  }

  async function start() {
    clearCanvas();
    showResult(null);
    const manifest = await (await fetch(new URL("manifest.json", BASE))).json();
    demo.manifest = manifest;
    if (!manifest.runtime) {
      setState("unavailable", "This build of the site has no browser runtime for the model "
        + "(onnxruntime-web) or no model: build it with `make site` on a machine with npm.");
      return;
    }
    if (manifest.rule) {
      const values = await (await fetch(new URL(manifest.rule, BASE))).json();
      demo.rule = window.DigitsDecline.ruleFromObject(values);
      if (demo.rule.classes === 11) notDigitRow = makeBar("not a digit", "demo-bar-not-digit");
      if (demo.rule.temperature !== 1) {
        barsCaption.textContent = `The model's ten digit probabilities (temperature ${demo.rule.temperature})`;
      }
    }
    await new Promise((resolve, reject) => { // the runtime's script, from this site only
      const script = document.createElement("script");
      script.src = new URL(manifest.runtime, BASE).href;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`could not load ${script.src}`));
      document.head.appendChild(script);
    });
    ort.env.wasm.wasmPaths = BASE.href; // the WebAssembly file too: nothing from outside
    ort.env.wasm.numThreads = 1; // threads need cross-origin isolation, which a plain server lacks
    const started = performance.now();
    session = await ort.InferenceSession.create(new URL(manifest.model, BASE).href,
      { executionProviders: ["wasm"] });
    const seconds = (performance.now() - started) / 1000;
    demo.modelInfo = `Model ${manifest.model} (${Math.round(manifest.model_bytes / 1000)} KB) `
      + `on onnxruntime-web ${manifest.runtime_version} (WebAssembly), loaded in ${seconds.toFixed(1)} s. `
      + describeRule(demo.rule, manifest);
    setState("ready", `${demo.modelInfo}. Draw a digit.`);
    if (strokes > 0) changed(); // drawn while the model was loading
  }

  demo.ready = start().catch((error) => {
    setState("error", `The model could not be loaded: ${error.message}`);
    throw error;
  });
  demo.loadImage = loadImage;
})();
