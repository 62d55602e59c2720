// Checks list: refresh statuses and last-ping ages without reloading, and the add form's
// schedule kinds with a live preview of the next runs.
"use strict";

(function refreshStatuses() {
  const table = document.querySelector("table.checks");
  if (!table) return;
  const url = table.dataset.statusUrl;
  async function refresh() {
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) return;
      const { details } = await response.json();
      for (const check of details) {
        const row = table.querySelector(`tr[data-code="${check.code}"]`);
        if (!row) continue;
        const icon = row.querySelector(".status");
        icon.className = `status status-${check.status}`;
        icon.title = check.status;
        icon.setAttribute("aria-label", check.status);
        const time = row.querySelector(".last-ping time");
        time.textContent = check.last_ping_age;
        time.dateTime = check.last_ping || "";
      }
    } catch (_) {
      // Offline for a moment: the next round tries again.
    }
  }
  setInterval(refresh, 5000);
})();

(function addForm() {
  const form = document.querySelector("form[data-preview-url]");
  if (!form) return;
  const simple = form.querySelector(".kind-simple");
  const scheduled = form.querySelector(".kind-schedule");
  const list = form.querySelector(".preview ol");
  function kind() {
    return form.querySelector("input[name=kind]:checked").value;
  }
  function showKind() {
    const isSimple = kind() === "simple";
    simple.hidden = !isSimple;
    scheduled.hidden = isSimple;
    if (!isSimple) preview();
  }
  let timer = null;
  async function preview() {
    const params = new URLSearchParams({ schedule: form.schedule.value, tz: form.tz.value });
    const response = await fetch(`${form.dataset.previewUrl}?${params}`, { credentials: "same-origin" });
    if (!response.ok) return;
    const result = await response.json();
    list.replaceChildren();
    const items = result.error ? [result.error] : result.next;
    for (const text of items) {
      const item = document.createElement("li");
      item.textContent = text;
      if (result.error) item.className = "field-error";
      list.append(item);
    }
  }
  function later() {
    clearTimeout(timer);
    timer = setTimeout(preview, 250);
  }
  form.querySelectorAll("input[name=kind]").forEach((radio) => radio.addEventListener("change", showKind));
  form.schedule.addEventListener("input", later);
  form.tz.addEventListener("input", later);
  showKind();
})();
