/*
 * The website's drawing demo (site/demo.md): draw a digit, see the 28x28 image the model
 * receives and its ten probabilities. The model is models/best_cnn.onnx (notebook 11), run
 * in the browser by onnxruntime-web (WebAssembly); preprocess.js turns the drawing into
 * MNIST's form. `make site` copies these files, the model and the runtime into
 * _static/demo/ of the built site, so the page loads nothing from outside the site.
 *
 * For tests and the curious, window.digitsDemo exposes the state: `ready` (a promise),
 * `results` (how many classifications ran) and `lastResult` (input, probabilities, digit).
 */
(function () {
  "use strict";

  const BASE = new URL("./", document.currentScript.src); // .../_static/demo/
  const PEN_WIDTH = 18; // canvas pixels, on a 280x280 canvas (as notebook 08's canvas)
  const root = document.getElementById("digits-demo");
  const canvas = document.getElementById("demo-canvas");
  const inputCanvas = document.getElementById("demo-input");
  const status = document.getElementById("demo-status");
  const answer = document.getElementById("demo-answer");
  const bars = document.getElementById("demo-bars");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const demo = { results: 0, lastResult: null, state: "loading" };
  window.digitsDemo = demo;

  let session = null;
  let strokes = 0;
  let drawing = false;
  let last = null;
  let busy = false;
  let again = false;

  function setState(state, text) {
    demo.state = state;
    root.dataset.state = state;
    if (text !== undefined) status.textContent = text;
  }

  // Drawing ------------------------------------------------------------------------------

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
    drawing = true;
    last = canvasPoint(event);
    drawSegment(last, last); // a dot for a tap
    strokes += 1;
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const point = canvasPoint(event);
    drawSegment(last, point);
    last = point;
    schedule();
  });
  const stop = () => {
    if (!drawing) return;
    drawing = false;
    schedule();
  };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);

  document.getElementById("demo-clear").addEventListener("click", () => {
    clearCanvas();
    showResult(null);
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
    await classify();
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

  function schedule() { // at most one classification at a time; the latest drawing wins
    if (busy) {
      again = true;
      return;
    }
    classify();
  }

  async function classify() {
    if (!session || strokes === 0) return;
    busy = true;
    try {
      const started = performance.now();
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
      const steps = window.DigitsPreprocess.preprocessSteps(pixels.data, canvas.width, canvas.height);
      const preprocessed = performance.now();
      if (!steps) {
        showResult(null);
        return;
      }
      const input = steps.mnist.data;
      const tensor = new ort.Tensor("float32", input, [1, 28, 28, 1]);
      const outputs = await session.run({ [session.inputNames[0]]: tensor });
      const probabilities = Array.from(outputs[session.outputNames[0]].data);
      const finished = performance.now();
      const digit = probabilities.indexOf(Math.max(...probabilities));
      demo.lastResult = {
        input: Array.from(input), probabilities, digit,
        preprocessMs: preprocessed - started, modelMs: finished - preprocessed,
      };
      demo.results += 1;
      showResult(demo.lastResult);
    } finally {
      busy = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  }

  // Showing ------------------------------------------------------------------------------

  const barRows = [];
  for (let digit = 0; digit < 10; digit++) {
    const row = document.createElement("div");
    row.className = "demo-bar-row";
    row.innerHTML = `<span class="demo-bar-label">${digit}</span>`
      + '<span class="demo-bar-track"><span class="demo-bar"></span></span>'
      + '<span class="demo-bar-value"></span>';
    bars.appendChild(row);
    barRows.push(row);
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

  function showResult(result) {
    showInput(result && result.input);
    barRows.forEach((row, digit) => {
      const probability = result ? result.probabilities[digit] : 0;
      row.querySelector(".demo-bar").style.width = `${(100 * probability).toFixed(1)}%`;
      row.querySelector(".demo-bar-value").textContent = result ? `${(100 * probability).toFixed(1)}%` : "";
      row.classList.toggle("demo-bar-best", Boolean(result) && digit === result.digit);
    });
    if (!result) {
      answer.textContent = "Draw a digit from 0 to 9 in the box.";
      return;
    }
    const confidence = (100 * result.probabilities[result.digit]).toFixed(1);
    answer.innerHTML = `The model reads a <strong>${result.digit}</strong> (${confidence}%)`;
    status.textContent = `${demo.modelInfo}. Last drawing: preprocessing `
      + `${result.preprocessMs.toFixed(0)} ms, model ${result.modelMs.toFixed(1)} ms.`;
  }

  // Loading ------------------------------------------------------------------------------

  async function start() {
    clearCanvas();
    showResult(null);
    const manifest = await (await fetch(new URL("manifest.json", BASE))).json();
    if (!manifest.runtime) {
      setState("unavailable", "This build of the site has no browser runtime for the model "
        + "(onnxruntime-web): build it with `make site` on a machine with npm.");
      return;
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
      + `on onnxruntime-web ${manifest.runtime_version} (WebAssembly), loaded in ${seconds.toFixed(1)} s`;
    setState("ready", `${demo.modelInfo}. Draw a digit.`);
  }

  demo.ready = start().catch((error) => {
    setState("error", `The model could not be loaded: ${error.message}`);
    throw error;
  });
  demo.loadImage = loadImage;
  demo.classify = classify;
})();
