// 收银台: focus where the cashier continues after each step, and scanning a code with the
// device camera: the browser's BarcodeDetector where it reads QR codes, else the vendored jsQR
// on frames drawn to a canvas (loaded only when first needed). Without a camera, or without
// permission, the cashier reads a message beside the field and types the code instead.
"use strict";

(() => {
  const dialog = document.getElementById("till-scanner");
  const video = document.getElementById("till-scanner-video");
  const status = document.getElementById("till-scanner-status");
  if (!dialog || !video || !status) return;

  let stream = null;
  let running = false;
  let target = null;
  let decoder = null;

  const say = (name) => dialog.getAttribute(`data-${name}`) || "";

  function settle() {
    // The camera needs a script: its buttons show only when this one runs.
    document.querySelectorAll("button[data-scan][hidden]").forEach((button) => {
      button.hidden = false;
    });
    const wanted = document.querySelector("[data-autofocus]");
    if (wanted) {
      wanted.removeAttribute("data-autofocus");
      wanted.focus();
    }
  }

  function loadScript(src) {
    return new Promise((resolve) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => resolve(true);
      script.onerror = () => resolve(false);
      document.head.appendChild(script);
    });
  }

  async function nativeDecoder() {
    if (!("BarcodeDetector" in window)) return null;
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (!formats.includes("qr_code")) return null;
      const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      return async () => {
        const codes = await detector.detect(video);
        return codes.length ? codes[0].rawValue : null;
      };
    } catch (_) {
      return null;
    }
  }

  async function canvasDecoder() {
    if (typeof window.jsQR !== "function" && !(await loadScript(dialog.dataset.jsqr))) return null;
    if (typeof window.jsQR !== "function") return null;
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    return async () => {
      const width = video.videoWidth;
      const height = video.videoHeight;
      if (!width || !height) return null;
      const scale = Math.min(1, 640 / Math.max(width, height));
      canvas.width = Math.round(width * scale);
      canvas.height = Math.round(height * scale);
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      const found = window.jsQR(image.data, image.width, image.height, {
        inversionAttempts: "attemptBoth",
      });
      return found ? found.data : null;
    };
  }

  function stop() {
    running = false;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    if (dialog.open) dialog.close();
  }

  function refuse(note, text) {
    stop();
    if (note) note.textContent = text;
    if (target) target.focus();
  }

  function found(value) {
    const field = target;
    stop();
    field.value = value.trim();
    if (field.form) field.form.requestSubmit();
  }

  async function tick() {
    if (!running) return;
    let value = null;
    try {
      value = await decoder();
    } catch (_) {
      value = null;
    }
    if (!running) return;
    if (value) {
      found(value);
    } else {
      window.setTimeout(() => window.requestAnimationFrame(tick), 150);
    }
  }

  async function start(button) {
    target = document.getElementById(button.getAttribute("data-scan"));
    const note = document.getElementById(button.getAttribute("data-scan-note"));
    if (!target) return;
    if (note) note.textContent = "";
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      refuse(note, say("unsupported"));
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" } },
        audio: false,
      });
    } catch (error) {
      const denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
      refuse(note, say(denied ? "denied" : "no-camera"));
      return;
    }
    video.srcObject = stream;
    status.textContent = say("looking");
    dialog.showModal();
    try {
      await video.play();
    } catch (_) {
      // a stopped stream (the dialog closed at once) needs no message
    }
    decoder = decoder || (await nativeDecoder()) || (await canvasDecoder());
    if (!stream) return;
    if (!decoder) {
      refuse(note, say("no-decoder"));
      return;
    }
    running = true;
    tick();
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-scan]");
    if (button) start(button);
    if (event.target.closest("[data-scan-close]")) stop();
  });
  dialog.addEventListener("close", stop);
  document.addEventListener("htmx:afterSettle", settle);
  settle();
})();
