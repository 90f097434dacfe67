/* The widget manager (@jupyter-widgets/html-manager 1.x) typesets widget labels with MathJax 2's
   `MathJax.Hub.Queue`; the site uses MathJax 3, which has no `Hub`. This shim gives every object assigned to
   `window.MathJax` (the configuration, then MathJax 3 itself when it loads) a `Hub.Queue` that calls MathJax 3. */
(function () {
  function withHub(mathjax) {
    if (mathjax && typeof mathjax === "object" && !mathjax.Hub) {
      Object.defineProperty(mathjax, "Hub", {
        configurable: true,
        enumerable: false,
        value: {
          Queue: function (command) {
            var element = Array.isArray(command) ? command[2] : undefined;
            if (typeof mathjax.typesetPromise === "function") {
              mathjax.typesetPromise(element ? [element] : undefined).catch(function () {});
            }
          },
        },
      });
    }
    return mathjax;
  }
  var current = withHub(window.MathJax);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    get: function () { return withHub(current); },
    set: function (value) { current = withHub(value); },
  });
})();
