// A "Copy" button copies the text of the element its data-copy names, and says so in the
// status line beside it (not beside another Copy button of the page).
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  const state = button.parentElement.querySelector("[role=status]");
  document.querySelectorAll("[data-copy]").forEach((other) => {
    const said = other.parentElement.querySelector("[role=status]");
    if (said && said !== state) said.textContent = "";
  });
  const field = source.tagName === "INPUT" || source.tagName === "TEXTAREA";
  try {
    await navigator.clipboard.writeText((field ? source.value : source.textContent).trim());
    if (state) state.textContent = "Copied.";
  } catch (err) {
    // No clipboard (an insecure origin): select it, so that Ctrl+C copies it.
    if (field) source.select(); else window.getSelection().selectAllChildren(source);
    if (state) state.textContent = "Selected: press Ctrl+C to copy.";
  }
});
