// Data quality: Airflow's colour mode, links into Airflow's own pages, and the decision dialog.
"use strict";

(function () {
  const root = document.documentElement;
  const prefix = document.body.dataset.prefix || "";
  let embedded = false;
  try {
    embedded = window.self !== window.top && window.top.location.origin === window.location.origin;
  } catch (error) {
    embedded = false;
  }
  if (!embedded) root.classList.add("standalone");

  // Airflow keeps its colour mode in localStorage (Chakra UI); follow it.
  try {
    const mode = localStorage.getItem("chakra-ui-color-mode");
    const dark = mode === "dark" || (!mode && window.matchMedia("(prefers-color-scheme: dark)").matches);
    root.dataset.theme = dark ? "dark" : "light";
  } catch (error) {
    root.dataset.theme = "light";
  }

  // A link to one of Airflow's pages opens it in Airflow's UI, not inside this frame.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-airflow-path]");
    if (!link || !embedded) return;
    event.preventDefault();
    window.top.history.pushState({}, "", link.dataset.airflowPath);
    window.top.dispatchEvent(new PopStateEvent("popstate", { state: {} }));
  });

  // A message from the last decision, shown once after the page reloads.
  const flash = document.getElementById("flash");
  function show(message, isError) {
    flash.textContent = message;
    flash.classList.toggle("error", Boolean(isError));
    flash.hidden = false;
  }
  const kept = sessionStorage.getItem("lienthong-flash");
  if (kept) {
    sessionStorage.removeItem("lienthong-flash");
    const { message, error } = JSON.parse(kept);
    show(message, error);
  }

  // Row selection and corrections.
  const boxes = () => Array.from(document.querySelectorAll("input.row-select"));
  const selected = () => boxes().filter((b) => b.checked).map((b) => Number(b.value));
  function refresh() {
    const n = selected().length;
    const count = document.getElementById("selected-count");
    if (count) count.textContent = `${n} selected`;
    for (const id of ["release-selected", "reject-selected"]) {
      const button = document.getElementById(id);
      if (button) button.disabled = n === 0;
    }
  }
  document.addEventListener("change", (event) => {
    if (event.target.id === "select-all") {
      for (const box of boxes()) box.checked = event.target.checked;
    }
    refresh();
  });
  document.addEventListener("input", (event) => {
    const input = event.target;
    if (!input.classList.contains("correction")) return;
    input.classList.toggle("changed", input.value !== input.dataset.original);
    const box = document.querySelector(`input.row-select[value="${input.dataset.row}"]`);
    if (box && input.value !== input.dataset.original) box.checked = true;
    refresh();
  });
  function corrections(rows) {
    const chosen = new Set(rows);
    const found = {};
    for (const input of document.querySelectorAll("input.correction")) {
      const row = Number(input.dataset.row);
      if (!chosen.has(row) || input.value === input.dataset.original) continue;
      found[row] = found[row] || {};
      found[row][input.dataset.field] = input.value === "" ? null : input.value;
    }
    return found;
  }

  // The decision dialog: every decision asks for a reason.
  const overlay = document.getElementById("decision");
  const form = document.getElementById("decision-form");
  const reason = document.getElementById("decision-reason");
  const problem = document.getElementById("decision-error");
  let pending = null;
  function ask(title, summary, request) {
    document.getElementById("decision-title").textContent = title;
    document.getElementById("decision-summary").textContent = summary;
    problem.hidden = true;
    reason.value = "";
    pending = request;
    overlay.hidden = false;
    reason.focus();
  }
  document.getElementById("decision-cancel").addEventListener("click", () => {
    overlay.hidden = true;
    pending = null;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!pending) return;
    const text = reason.value.trim();
    if (!text) {
      problem.textContent = "Give a reason.";
      problem.hidden = false;
      return;
    }
    const confirm = document.getElementById("decision-confirm");
    confirm.disabled = true;
    try {
      const response = await fetch(`${prefix}${pending.path}`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ ...pending.body, reason: text }),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        const detail = typeof answer.detail === "string" ? answer.detail : JSON.stringify(answer.detail || answer);
        problem.textContent = `${response.status}: ${detail}`;
        problem.hidden = false;
        return;
      }
      sessionStorage.setItem("lienthong-flash", JSON.stringify({ message: pending.done(answer) }));
      window.location.reload();
    } catch (error) {
      problem.textContent = String(error);
      problem.hidden = false;
    } finally {
      confirm.disabled = false;
    }
  });

  function rowsOutcome(answer) {
    if (answer.decision.action === "reject_rows") {
      return `Rejected ${answer.decision.row_nos.length} row(s): kept, never published (decision ${answer.decision.decision_id}).`;
    }
    const again = Object.entries(answer.quarantined).map(([row, rules]) => `row ${row}: ${rules.join(", ")}`);
    return (
      `Released ${answer.decision.row_nos.length} row(s) as batch #${answer.release_batch_no}: ` +
      `${answer.published.length} published` +
      (again.length ? `, ${again.length} back in quarantine (${again.join("; ")})` : "") +
      (answer.collapsed.length ? `, ${answer.collapsed.length} identical copies collapsed` : "") +
      "."
    );
  }

  // A release that stopped midway is finished without a new decision (it was taken).
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-complete-release]");
    if (!button) return;
    button.disabled = true;
    const response = await fetch(`${prefix}/api/batches/${button.dataset.completeRelease}/release/complete`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: "{}",
    });
    const answer = await response.json().catch(() => ({}));
    sessionStorage.setItem(
      "lienthong-flash",
      JSON.stringify(response.ok ? { message: rowsOutcome(answer) } : { message: `${response.status}: ${answer.detail}`, error: true }),
    );
    window.location.reload();
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-rows-action], button[data-decide]");
    if (!button) return;
    event.preventDefault();
    const batch = document.getElementById("summary").dataset.batch;
    if (button.dataset.decide) {
      const approve = button.dataset.decide === "approve";
      ask(
        approve ? `Approve batch #${batch}` : `Reject batch #${batch}`,
        approve
          ? "The batch is published as it stands; its failing rows stay in quarantine."
          : "The batch is marked rejected; nothing of it is published.",
        {
          path: `/api/batches/${batch}/${approve ? "approve" : "reject"}`,
          body: {},
          done: (answer) =>
            `Batch #${batch} ${approve ? "approved and published" : "rejected"} (decision ${answer.decision.decision_id})` +
            (answer.required_action_answered ? "; its Required Action in Airflow is answered too." : "."),
        },
      );
      return;
    }
    const release = button.dataset.rowsAction === "release";
    const rule = button.dataset.ruleAll;
    const body = {};
    let summary;
    if (rule) {
      body.rule_id = rule;
      summary = `All ${button.dataset.count} row(s) of rule ${rule} still awaiting a decision.`;
    } else {
      body.row_nos = selected();
      summary = `Rows ${body.row_nos.join(", ")}.`;
      if (release) {
        body.corrections = corrections(body.row_nos);
        const n = Object.keys(body.corrections).length;
        if (n) summary += ` ${n} of them with corrected values, recorded as fixes by you.`;
      }
    }
    ask(
      release ? "Release quarantined rows" : "Reject quarantined rows",
      release
        ? `${summary} They are validated again by the same suites: those that pass are published, the rest return to quarantine.`
        : `${summary} They are kept, marked rejected, and never published.`,
      { path: `/api/batches/${batch}/rows/${release ? "release" : "reject"}`, body, done: rowsOutcome },
    );
  });
  refresh();
})();
