/* The sidebar toggles. The theme (pydata-sphinx-theme 0.17 under sphinx-book-theme 1.3) attaches its click
   handlers to the first `.primary-toggle` / `.secondary-toggle` in the page, which is a hidden duplicate in the
   top navbar; the buttons a reader sees are later in the page and had no handler. A click on a visible toggle
   is passed on to the button that has the handlers (which opens the drawer on narrow screens and hides or shows
   the sidebar on wide ones). */
(function () {
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".primary-toggle, .secondary-toggle");
    if (!button) return;
    var selector = button.classList.contains("primary-toggle") ? ".primary-toggle" : ".secondary-toggle";
    var handled = document.querySelector(selector);
    if (!handled || handled === button) return;
    event.preventDefault();
    event.stopPropagation();
    handled.click();
    button.setAttribute("aria-expanded", handled.getAttribute("aria-expanded") || "false");
  }, true);
})();
