// The vclone page: lists the voice's languages and voices, speaks through /v1/audio/speech, registers recordings.
"use strict";

const $ = (id) => document.getElementById(id);

function say(message, isError = false) {
  $("status").textContent = message;
  $("status").className = isError ? "error" : "";
}

async function errorOf(response) {
  try {
    const body = await response.json();
    return body.error ? body.error.message : response.statusText;
  } catch (_) {
    return response.statusText;
  }
}

async function loadVoices(select) {
  const response = await fetch("/v1/voices");
  if (!response.ok) { say(await errorOf(response), true); return; }
  const info = await response.json();
  $("model").textContent = `Model: ${info.model}.`;
  const language = $("language");
  language.length = 1;
  for (const code of info.languages) language.add(new Option(code, code));
  const voice = $("voice");
  voice.length = 0;
  for (const v of info.voices) voice.add(new Option(v.kind === "registered" ? `${v.name} (recording)` : v.name, v.name));
  if (select) voice.value = select;
  $("clone").hidden = !info.clones_from_audio;
}

async function speak() {
  const text = $("text").value;
  if (!text.trim()) { say("Type something to say first.", true); return; }
  say("Speaking…");
  const body = { model: "vclone", input: text, voice: $("voice").value, response_format: "wav", speed: Number($("speed").value) || 1 };
  if ($("language").value) body.language = $("language").value;
  const response = await fetch("/v1/audio/speech", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) { say(await errorOf(response), true); return; }
  const blob = await response.blob();
  const player = $("player");
  if (player.src.startsWith("blob:")) URL.revokeObjectURL(player.src);
  player.src = URL.createObjectURL(new Blob([blob], { type: "audio/wav" }));
  say(`Spoken in ${response.headers.get("X-Language") || "?"}.`);
  player.play().catch(() => {});
}

async function register() {
  const files = $("reference").files;
  if (!files.length) { say("Choose one or more recordings first.", true); return; }
  const form = new FormData();
  for (const file of files) form.append("file", file, file.name);
  if ($("voice-name").value.trim()) form.append("name", $("voice-name").value.trim());
  say("Listening to the recording…");
  const response = await fetch("/v1/voices", { method: "POST", body: form });
  if (!response.ok) { say(await errorOf(response), true); return; }
  const made = await response.json();
  await loadVoices(made.name);
  say(`Voice ${made.name} added (${made.speech_seconds} s of speech)${made.warning ? ": " + made.warning : "."}`);
}

$("speak").addEventListener("click", () => speak().catch((e) => say(String(e), true)));
$("register").addEventListener("click", () => register().catch((e) => say(String(e), true)));
loadVoices().catch((e) => say(String(e), true));
