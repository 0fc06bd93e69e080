// The page's three live parts. URLs come from the server's url_for, on <body>.
const urls = document.body.dataset;

// Upload: XMLHttpRequest reports the bytes sent, which fetch() does not.
document.getElementById("upload").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const progress = document.getElementById("progress");
  const percent = document.getElementById("percent");
  const xhr = new XMLHttpRequest();
  xhr.open("POST", urls.upload);
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) {
      progress.value = (100 * e.loaded) / e.total;
      percent.textContent = `${Math.round(progress.value)}%`;
    }
  };
  xhr.onload = () => {
    if (xhr.status !== 200) {
      percent.textContent = `failed: ${xhr.status} ${xhr.responseText}`;
      return;
    }
    percent.textContent = "done";
    for (const file of JSON.parse(xhr.responseText)) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = `/files/${encodeURIComponent(file.name)}`;
      a.textContent = file.name;
      li.append(a, ` (${file.size} bytes)`);
      document.getElementById("files").append(li);
    }
    form.reset();
  };
  xhr.send(new FormData(form));
});

// Log: EventSource reconnects by itself and sends Last-Event-ID, so nothing is missed.
const log = new EventSource(urls.events);
const logState = document.getElementById("log-state");
log.onopen = () => { logState.textContent = "live"; };
log.onerror = () => { logState.textContent = "reconnecting…"; };
log.onmessage = (event) => {
  const li = document.createElement("li");
  li.textContent = event.data;
  document.getElementById("log").append(li);
};

// Chat: one WebSocket per member.
let socket = null;
document.getElementById("join").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = document.getElementById("name").value;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}${urls.chat}?name=${encodeURIComponent(name)}`);
  socket.onmessage = (e) => {
    const li = document.createElement("li");
    li.textContent = e.data;
    document.getElementById("chat").append(li);
  };
  socket.onopen = () => {
    event.target.hidden = true;
    document.getElementById("say").hidden = false;
  };
});
document.getElementById("say").addEventListener("submit", (event) => {
  event.preventDefault();
  const message = document.getElementById("message");
  if (socket && message.value) {
    socket.send(message.value);
    message.value = "";
  }
});
