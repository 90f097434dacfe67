/* Accessible names for the sliders the widget manager draws (noUiSlider handles have role="slider" but no
   name): each handle is labelled with its slider's description, or "slider" and its position on the page. */
(function () {
  function name(handle, index) {
    var slider = handle.closest(".widget-slider");
    var label = slider && slider.querySelector(".widget-label");
    var text = label && label.textContent.trim();
    return text || "slider " + (index + 1);
  }
  function label() {
    document.querySelectorAll(".noUi-handle[role=slider]").forEach(function (handle, index) {
      if (!handle.hasAttribute("aria-label")) handle.setAttribute("aria-label", name(handle, index));
    });
  }
  new MutationObserver(label).observe(document.documentElement, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", label);
})();
