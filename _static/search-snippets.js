/* Search results: the text snippet under each hit is taken from the page's main element, which also holds the
   article's toolbar (launch, download and colour-mode buttons), the in-page contents and the previous/next
   links. Keep only the article itself, without buttons, and collapse the whitespace left by the markup. */
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Search === "undefined" || !Search.htmlToText) return;
  var htmlToText = Search.htmlToText;
  var chrome = "button, .copybtn, .bd-header-article, .bd-sidebar-secondary, .prev-next-area, .bd-footer-article, " +
    ".dropdown-menu, .onlyprint, .visually-hidden, .sr-only";
  Search.htmlToText = function (htmlString, anchor) {
    var doc = new DOMParser().parseFromString(htmlString, "text/html");
    doc.querySelectorAll(chrome).forEach(function (el) { el.remove(); });
    return htmlToText(doc.documentElement.outerHTML, anchor).replace(/\s+/g, " ").trim();
  };
});
