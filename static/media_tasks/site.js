// Every page: keep people where they acted, say what happened, and small helpers of the library.
(function () {
  // After a form's action the server redirects back to the page, and the browser keeps the form's
  // #fragment (e.g. #sharing): the part is unfolded and focused, as it was when they pressed it.
  function returnToFragment() {
    const id = decodeURIComponent(location.hash.slice(1));
    const target = id && document.getElementById(id);
    if (!target || target.id === "main") return;
    for (let d = target.closest("details"); d; d = d.parentElement.closest("details")) d.open = true;
    let focus = target.tagName === "DETAILS" ? target.querySelector("summary") : target;
    if (focus === target && !target.matches("a, button, input, select, textarea, summary, [tabindex]")) {
      target.setAttribute("tabindex", "-1");  // focusable by script only, so that Tab goes on from here
    }
    focus.focus({preventScroll: true});
    target.scrollIntoView({block: "start"});
  }

  // A live region filled before a screen reader knows the page is not read out: fill it again.
  function sayMessages() {
    const box = document.getElementById("messages");
    if (!box || !box.children.length) return;
    const said = [...box.children];
    box.replaceChildren();
    setTimeout(() => box.replaceChildren(...said), 150);
  }

  // My media: a new sort applies at once ("Show" stays for no JavaScript), and "Delete selected…"
  // waits for a tick (without JavaScript the server says "Nothing was chosen").
  function library() {
    const sort = document.querySelector(".library-tools select[name=sort]");
    if (sort) sort.addEventListener("change", () => sort.form.requestSubmit());
    const form = document.getElementById("library-form");
    const remove = document.getElementById("delete-selected");
    if (!form || !remove) return;
    const update = () => { remove.disabled = !form.querySelector("input[name=ids]:checked"); };
    form.addEventListener("change", update);
    document.addEventListener("htmx:afterSettle", update);
    update();
  }

  function ready() {
    returnToFragment();
    sayMessages();
    library();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
