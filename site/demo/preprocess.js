/*
 * MNIST-style preprocessing for the website's drawing demo: the JavaScript twin of
 * helpers/preprocess.py (notebook 08), step by step and with the same constants, so that
 * the browser feeds the model the same 28x28 image Python would.
 *
 *   gray -> polarity and contrast -> ink mask without specks -> crop to the ink
 *        -> fit into 20x20 keeping the aspect ratio (thin strokes thickened)
 *        -> centre by centre of mass in 28x28
 *
 * One step is simplified: Python subtracts a smoothed paper level before the contrast
 * normalisation, to remove shadows from photos; a canvas or a scanned image has even paper,
 * so here the paper level is one number (the median). tests/test_site.py checks that the
 * page's 28x28 images match helpers.preprocess.to_mnist within a stated tolerance.
 *
 * Images are {width, height, data: Float32Array} with rows one after the other. Rounding
 * follows Python's round() (halves to even), resizing follows Pillow's, filters follow
 * scipy.ndimage's "reflect" borders, so that the two pipelines agree to float precision.
 */
(function (root) {
  "use strict";

  const MNIST_SIZE = 28;
  const BOX_SIZE = 20;
  const MNIST_CENTRE = [14.0, 14.0];
  const TARGET_STROKE_WIDTH = 2.8;

  // Helpers --------------------------------------------------------------------------------

  function image(width, height, data) {
    return { width, height, data: data || new Float32Array(width * height) };
  }

  /** Python's round(): halves go to the even neighbour. */
  function roundHalfEven(x) {
    const floor = Math.floor(x);
    const fraction = x - floor;
    if (fraction > 0.5) return floor + 1;
    if (fraction < 0.5) return floor;
    return floor % 2 === 0 ? floor : floor + 1;
  }

  /** numpy.percentile with its default linear interpolation. */
  function percentile(values, q) {
    const sorted = Float64Array.from(values).sort();
    if (sorted.length === 0) return NaN;
    const position = (q / 100) * (sorted.length - 1);
    const low = Math.floor(position);
    const high = Math.min(low + 1, sorted.length - 1);
    return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
  }

  /** scipy.ndimage's "reflect" border: (d c b a | a b c d | d c b a). */
  function reflect(index, size) {
    const period = 2 * size;
    let i = ((index % period) + period) % period;
    return i < size ? i : period - 1 - i;
  }

  // 1. Grayscale -----------------------------------------------------------------------------

  /** RGBA bytes (canvas ImageData) to grayscale in [0, 1]: the mean of R, G, B, as
   * load_grayscale does for an array; transparent pixels count as white paper. */
  function grayFromRGBA(rgba, width, height) {
    const out = image(width, height);
    for (let i = 0; i < width * height; i++) {
      const alpha = rgba[4 * i + 3] / 255;
      const mean = (rgba[4 * i] + rgba[4 * i + 1] + rgba[4 * i + 2]) / 3;
      out.data[i] = (mean * alpha + 255 * (1 - alpha)) / 255;
    }
    return out;
  }

  const SMALL_IMAGE_SIDE = 64;

  /** A tiny image padded with paper and enlarged (bicubic) until its longer side reaches
   * SMALL_IMAGE_SIDE; larger images unchanged (enlarge_small_image). Needs resize, below. */
  function enlargeSmallImage(gray, minSide = SMALL_IMAGE_SIDE, padFraction = 0.25) {
    const { width, height } = gray;
    if (Math.max(width, height) >= minSide) return gray;
    const paper = percentile(gray.data, inkIsDark(gray) ? 99 : 1);
    const pad = Math.max(2, roundHalfEven(padFraction * Math.max(width, height)));
    const padded = image(width + 2 * pad, height + 2 * pad);
    padded.data.fill(paper);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        padded.data[(y + pad) * padded.width + x + pad] = gray.data[y * width + x];
      }
    }
    const factor = Math.ceil(minSide / Math.max(padded.width, padded.height));
    const out = factor > 1
      ? resize(padded, padded.width * factor, padded.height * factor, "bicubic") : padded;
    for (let i = 0; i < out.data.length; i++) out.data[i] = Math.min(1, Math.max(0, out.data[i]));
    return out;
  }

  // 2-3. Polarity and contrast ------------------------------------------------------------------

  /** True for dark ink on light paper (ink_is_dark). */
  function inkIsDark(gray) {
    const low = percentile(gray.data, 1);
    const median = percentile(gray.data, 50);
    const high = percentile(gray.data, 99);
    return median - low >= high - median;
  }

  /** White ink on black, paper at 0 and ink at 1 (normalise_contrast, one paper level). */
  function normaliseContrast(gray, darkInk) {
    const flat = new Float32Array(gray.data.length);
    for (let i = 0; i < flat.length; i++) flat[i] = darkInk ? 1 - gray.data[i] : gray.data[i];
    const median = percentile(flat, 50);
    const deviations = flat.map((value) => Math.abs(value - median));
    const noise = 1.4826 * percentile(deviations, 50);
    const floor = median + 3.0 * noise;
    let max = -Infinity;
    for (const value of flat) max = Math.max(max, value);
    let ink = flat;
    if (max > floor) ink = flat.filter((value) => value > floor + 0.5 * (max - floor));
    const ceiling = ink.length ? percentile(ink, 75) : floor;
    const out = image(gray.width, gray.height);
    if (ceiling - floor < 0.05) return out; // no ink stands out of the paper
    for (let i = 0; i < flat.length; i++) {
      out.data[i] = Math.min(1, Math.max(0, (flat[i] - floor) / (ceiling - floor)));
    }
    return out;
  }

  // 4. Ink mask and specks ----------------------------------------------------------------------

  /** scipy.ndimage.gaussian_filter (truncate 4.0, reflect borders), rows then columns. */
  function gaussianFilter(img, sigma) {
    const radius = Math.trunc(4.0 * sigma + 0.5);
    const weights = [];
    let total = 0;
    for (let x = -radius; x <= radius; x++) {
      const w = Math.exp((-0.5 / (sigma * sigma)) * x * x);
      weights.push(w);
      total += w;
    }
    for (let k = 0; k < weights.length; k++) weights[k] /= total;
    const { width, height } = img;
    const pass1 = new Float32Array(width * height);
    for (let x = 0; x < width; x++) { // axis 0: along each column
      for (let y = 0; y < height; y++) {
        let sum = 0;
        for (let k = -radius; k <= radius; k++) {
          sum += weights[k + radius] * img.data[reflect(y + k, height) * width + x];
        }
        pass1[y * width + x] = sum;
      }
    }
    const out = image(width, height);
    for (let y = 0; y < height; y++) { // axis 1: along each row
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let k = -radius; k <= radius; k++) {
          sum += weights[k + radius] * pass1[y * width + reflect(x + k, width)];
        }
        out.data[y * width + x] = sum;
      }
    }
    return out;
  }

  /** Otsu's threshold over 256 bins in [0, 1] (otsu_threshold). */
  function otsuThreshold(values, bins = 256) {
    const histogram = new Float64Array(bins);
    for (const value of values) {
      if (value < 0 || value > 1) continue;
      histogram[Math.min(bins - 1, Math.floor(value * bins))] += 1;
    }
    const centres = Array.from({ length: bins }, (_, i) => (i + 0.5) / bins);
    const weightLow = new Float64Array(bins);
    const sumLow = new Float64Array(bins);
    let weight = 0;
    let sum = 0;
    for (let i = 0; i < bins; i++) {
      weight += histogram[i];
      sum += histogram[i] * centres[i];
      weightLow[i] = weight;
      sumLow[i] = sum;
    }
    let best = 0;
    let bestValue = -Infinity;
    for (let i = 0; i < bins; i++) {
      const weightHigh = weight - weightLow[i];
      const meanLow = sumLow[i] / Math.max(weightLow[i], 1);
      const meanHigh = (sum - sumLow[i]) / Math.max(weightHigh, 1);
      const between = weightLow[i] * weightHigh * (meanLow - meanHigh) ** 2;
      if (between > bestValue) {
        bestValue = between;
        best = i;
      }
    }
    return centres[best];
  }

  /** Ink pixels: after a light blur, above Otsu's threshold, at least 0.2 (ink_mask). */
  function inkMask(ink) {
    const sigma = Math.max(0.5, Math.min(ink.width, ink.height) / 300);
    const blurred = gaussianFilter(ink, sigma);
    const threshold = Math.max(0.2, otsuThreshold(blurred.data));
    const mask = new Uint8Array(ink.data.length);
    for (let i = 0; i < mask.length; i++) mask[i] = blurred.data[i] > threshold ? 1 : 0;
    return { width: ink.width, height: ink.height, data: mask };
  }

  /** Keep the 8-connected pieces of ink at least minFraction the size of the largest. */
  function removeSpecks(mask, minFraction = 0.03) {
    const { width, height, data } = mask;
    const labels = new Int32Array(data.length);
    const sizes = [0];
    const stack = [];
    for (let start = 0; start < data.length; start++) {
      if (!data[start] || labels[start]) continue;
      const label = sizes.length;
      let size = 0;
      labels[start] = label;
      stack.push(start);
      while (stack.length) {
        const i = stack.pop();
        size++;
        const y = Math.floor(i / width);
        const x = i - y * width;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const ny = y + dy;
            const nx = x + dx;
            if (ny < 0 || ny >= height || nx < 0 || nx >= width) continue;
            const j = ny * width + nx;
            if (data[j] && !labels[j]) {
              labels[j] = label;
              stack.push(j);
            }
          }
        }
      }
      sizes.push(size);
    }
    const largest = Math.max(0, ...sizes);
    const out = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) {
      out[i] = labels[i] && sizes[labels[i]] >= minFraction * largest ? 1 : 0;
    }
    return { width, height, data: out };
  }

  // 5. Cropping ---------------------------------------------------------------------------------

  /** [top, bottom, left, right] of the ink, bottom and right exclusive; null when blank. */
  function inkBoundingBox(mask) {
    let top = mask.height;
    let bottom = -1;
    let left = mask.width;
    let right = -1;
    for (let y = 0; y < mask.height; y++) {
      for (let x = 0; x < mask.width; x++) {
        if (!mask.data[y * mask.width + x]) continue;
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
        left = Math.min(left, x);
        right = Math.max(right, x);
      }
    }
    return bottom < 0 ? null : [top, bottom + 1, left, right + 1];
  }

  /** scipy.ndimage.binary_dilation with the cross-shaped structure, repeated, border 0. */
  function binaryDilation(mask, iterations) {
    const { width, height } = mask;
    let current = mask.data;
    for (let n = 0; n < iterations; n++) {
      const next = new Uint8Array(current.length);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const i = y * width + x;
          next[i] = current[i] || (y > 0 && current[i - width]) || (y < height - 1 && current[i + width])
            || (x > 0 && current[i - 1]) || (x < width - 1 && current[i + 1]) ? 1 : 0;
        }
      }
      current = next;
    }
    return { width, height, data: current };
  }

  /** The image cut to the ink's bounding box, everything not near ink cleared (crop_to_ink). */
  function cropToInk(ink, mask) {
    const grow = Math.max(1, roundHalfEven(Math.min(ink.width, ink.height) / 150));
    const near = binaryDilation(mask, grow);
    const box = inkBoundingBox(mask);
    const [top, bottom, left, right] = box;
    const out = image(right - left, bottom - top);
    for (let y = top; y < bottom; y++) {
      for (let x = left; x < right; x++) {
        const i = y * ink.width + x;
        out.data[(y - top) * out.width + (x - left)] = near.data[i] ? ink.data[i] : 0;
      }
    }
    return out;
  }

  // 6. Scaling ----------------------------------------------------------------------------------

  /** Typical stroke width: ink area divided by half its outline (stroke_width). */
  function strokeWidth(img) {
    const { width, height, data } = img;
    const ink = (x, y) => x >= 0 && y >= 0 && x < width && y < height && data[y * width + x] > 0.5;
    let area = 0;
    let outline = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (!ink(x, y)) continue;
        area++;
        const inside = ink(x - 1, y) && ink(x + 1, y) && ink(x, y - 1) && ink(x, y + 1);
        if (!inside) outline++;
      }
    }
    return area === 0 ? 0 : (2 * area) / Math.max(outline, 1);
  }

  /** scipy.ndimage.grey_dilation with a disk footprint of odd side `size`, reflect borders. */
  function greyDilationDisk(img, size) {
    const radius = (size - 1) / 2;
    const offsets = [];
    for (let dy = -radius; dy <= radius; dy++) {
      for (let dx = -radius; dx <= radius; dx++) {
        if (dx * dx + dy * dy <= radius * radius + 0.5) offsets.push([dy, dx]);
      }
    }
    const { width, height } = img;
    const out = image(width, height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let max = -Infinity;
        for (const [dy, dx] of offsets) {
          const value = img.data[reflect(y + dy, height) * width + reflect(x + dx, width)];
          if (value > max) max = value;
        }
        out.data[y * width + x] = max;
      }
    }
    return out;
  }

  const FILTERS = {
    box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
    bilinear: { support: 1.0, weight: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
    bicubic: { support: 2.0, weight: bicubicWeight },
  };

  /** Pillow's bicubic kernel (a = -0.5, bicubic_filter in Resample.c). */
  function bicubicWeight(x) {
    const a = -0.5;
    const t = Math.abs(x);
    if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
    if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
    return 0;
  }

  /** Pillow's resampling coefficients for one axis (precompute_coeffs in Resample.c). */
  function coefficients(inSize, outSize, filter) {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const support = filter.support * filterScale;
    const rows = [];
    for (let xx = 0; xx < outSize; xx++) {
      const centre = (xx + 0.5) * scale;
      const xmin = Math.max(0, Math.trunc(centre - support + 0.5));
      const xmax = Math.min(inSize, Math.trunc(centre + support + 0.5));
      const weights = [];
      let total = 0;
      for (let x = xmin; x < xmax; x++) {
        const w = filter.weight((x - centre + 0.5) / filterScale);
        weights.push(w);
        total += w;
      }
      rows.push({ start: xmin, weights: weights.map((w) => (total !== 0 ? w / total : w)) });
    }
    return rows;
  }

  /** Pillow's Image.resize for a float ("F") image: horizontal pass, then vertical. */
  function resize(img, newWidth, newHeight, filterName) {
    const filter = FILTERS[filterName];
    let current = img;
    if (newWidth !== img.width) {
      const rows = coefficients(img.width, newWidth, filter);
      const out = image(newWidth, img.height);
      for (let y = 0; y < img.height; y++) {
        for (let xx = 0; xx < newWidth; xx++) {
          const { start, weights } = rows[xx];
          let sum = 0;
          for (let k = 0; k < weights.length; k++) sum += current.data[y * img.width + start + k] * weights[k];
          out.data[y * newWidth + xx] = sum;
        }
      }
      current = out;
    }
    if (newHeight !== img.height) {
      const rows = coefficients(img.height, newHeight, filter);
      const out = image(current.width, newHeight);
      for (let yy = 0; yy < newHeight; yy++) {
        const { start, weights } = rows[yy];
        for (let x = 0; x < current.width; x++) {
          let sum = 0;
          for (let k = 0; k < weights.length; k++) sum += current.data[(start + k) * current.width + x] * weights[k];
          out.data[yy * current.width + x] = sum;
        }
      }
      current = out;
    }
    return current;
  }

  /** Scale the crop so its longer side is `box` pixels, aspect kept, thin strokes thickened,
   * in the middle of a box x box image (fit_into_box). */
  function fitIntoBox(crop, box = BOX_SIZE) {
    const { width, height } = crop;
    const scale = box / Math.max(height, width);
    const widthAfter = strokeWidth(crop) * scale;
    let source = crop;
    if (widthAfter > 0 && widthAfter < TARGET_STROKE_WIDTH) {
      const grow = (TARGET_STROKE_WIDTH - widthAfter) / scale;
      const size = roundHalfEven(grow) | 1;
      if (size > 1) source = greyDilationDisk(crop, size);
    }
    const newHeight = Math.max(1, roundHalfEven(height * scale));
    const newWidth = Math.max(1, roundHalfEven(width * scale));
    const small = resize(source, newWidth, newHeight, scale < 1 ? "box" : "bilinear");
    const positive = small.data.filter((value) => value > 0);
    const peak = positive.length ? percentile(positive, 95) : 0;
    if (peak > 0) {
      for (let i = 0; i < small.data.length; i++) small.data[i] = Math.min(1, Math.max(0, small.data[i] / peak));
    }
    const out = image(box, box);
    const top = Math.floor((box - newHeight) / 2);
    const left = Math.floor((box - newWidth) / 2);
    for (let y = 0; y < newHeight; y++) {
      for (let x = 0; x < newWidth; x++) out.data[(top + y) * box + left + x] = small.data[y * newWidth + x];
    }
    return out;
  }

  // 7. Centring ---------------------------------------------------------------------------------

  /** [row, column] of the intensity-weighted centre. */
  function centreOfMass(img) {
    let total = 0;
    let rows = 0;
    let cols = 0;
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) {
        const value = img.data[y * img.width + x];
        total += value;
        rows += y * value;
        cols += x * value;
      }
    }
    return [rows / total, cols / total];
  }

  /** Place the box in a 28x28 field, shifted by whole pixels so that its centre of mass sits
   * at (14, 14) (centre_by_mass). */
  function centreByMass(boxImage, size = MNIST_SIZE) {
    const field = image(size, size);
    const offset = Math.floor((size - boxImage.width) / 2);
    for (let y = 0; y < boxImage.height; y++) {
      for (let x = 0; x < boxImage.width; x++) {
        field.data[(offset + y) * size + offset + x] = boxImage.data[y * boxImage.width + x];
      }
    }
    const [row, col] = centreOfMass(field);
    const shiftY = roundHalfEven(MNIST_CENTRE[0] - row);
    const shiftX = roundHalfEven(MNIST_CENTRE[1] - col);
    const out = image(size, size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const sy = y - shiftY;
        const sx = x - shiftX;
        if (sy >= 0 && sy < size && sx >= 0 && sx < size) out.data[y * size + x] = field.data[sy * size + sx];
      }
    }
    return out;
  }

  // All steps -----------------------------------------------------------------------------------

  /** Every step from canvas pixels (RGBA bytes) to the 28x28 model input; null when blank.
   * Returns {gray, contrast, mask, cropped, box, mnist} like preprocess_steps. */
  function preprocessSteps(rgba, width, height) {
    const gray = enlargeSmallImage(grayFromRGBA(rgba, width, height));
    let min = Infinity;
    let max = -Infinity;
    for (const value of gray.data) {
      min = Math.min(min, value);
      max = Math.max(max, value);
    }
    if (max - min < 0.05) return null; // blank: no contrast
    const contrast = normaliseContrast(gray, inkIsDark(gray));
    const mask = removeSpecks(inkMask(contrast));
    if (!inkBoundingBox(mask)) return null; // blank: no ink
    const cropped = cropToInk(contrast, mask);
    const box = fitIntoBox(cropped);
    const mnist = centreByMass(box);
    return { gray, contrast, mask, cropped, box, mnist };
  }

  root.DigitsPreprocess = {
    MNIST_SIZE, BOX_SIZE, roundHalfEven, percentile, grayFromRGBA, inkIsDark, normaliseContrast,
    gaussianFilter, otsuThreshold, inkMask, removeSpecks, inkBoundingBox, cropToInk, strokeWidth,
    greyDilationDisk, resize, fitIntoBox, centreOfMass, centreByMass, preprocessSteps,
    SMALL_IMAGE_SIDE, enlargeSmallImage,
  };
})(typeof window !== "undefined" ? window : globalThis);
