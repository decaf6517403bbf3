// The mobile viewer (看片): progressive enhancement over a plain list of rendered images.
// Without this script every image shows in a scrolling list. With it, each series shows one
// image at a time: swipe, scroll or the buttons page through it, the window presets rewrite
// the rendered URL's `window=` (PS3.18 8.3.5.1.3), and two fingers pinch to zoom.
(function () {
  "use strict";
  var tools = document.querySelector(".viewer-tools");
  if (tools) { tools.hidden = false; }
  var series = Array.prototype.slice.call(document.querySelectorAll(".series"));
  series.forEach(function (s) {
    var frames = Array.prototype.slice.call(s.querySelectorAll(".frame"));
    var pager = s.querySelector(".pager");
    var pos = s.querySelector(".pos");
    if (frames.length === 0) { return; }
    var at = 0, scale = 1, startDist = 0, startScale = 1, startY = null;
    s.classList.add("paged");
    pager.hidden = false;
    function show(n) {
      at = Math.max(0, Math.min(frames.length - 1, n));
      frames.forEach(function (f, i) { f.hidden = i !== at; });
      pos.textContent = (at + 1) + " / " + frames.length;
      zoom(1);
    }
    function zoom(z) {
      scale = Math.max(1, Math.min(6, z));
      frames[at].querySelector("img").style.transform = "scale(" + scale + ")";
    }
    s.querySelector(".prev").addEventListener("click", function () { show(at - 1); });
    s.querySelector(".next").addEventListener("click", function () { show(at + 1); });
    s.addEventListener("wheel", function (e) {
      if (e.ctrlKey) { return; }
      e.preventDefault();
      show(at + (e.deltaY > 0 ? 1 : -1));
    }, { passive: false });
    s.addEventListener("touchstart", function (e) {
      if (e.touches.length === 2) {
        startDist = Math.hypot(e.touches[0].clientX - e.touches[1].clientX,
                               e.touches[0].clientY - e.touches[1].clientY);
        startScale = scale;
      } else if (e.touches.length === 1) { startY = e.touches[0].clientY; }
    }, { passive: true });
    s.addEventListener("touchmove", function (e) {
      if (e.touches.length === 2 && startDist > 0) {
        e.preventDefault();
        var d = Math.hypot(e.touches[0].clientX - e.touches[1].clientX,
                           e.touches[0].clientY - e.touches[1].clientY);
        zoom(startScale * d / startDist);
      } else if (e.touches.length === 1 && startY !== null && scale === 1) {
        var dy = e.touches[0].clientY - startY;
        if (Math.abs(dy) > 40) { e.preventDefault(); show(at + (dy < 0 ? 1 : -1)); startY = e.touches[0].clientY; }
      }
    }, { passive: false });
    s.addEventListener("touchend", function () { startDist = 0; startY = null; });
    show(0);
  });
  if (tools) {
    tools.addEventListener("click", function (e) {
      var w = e.target.getAttribute && e.target.getAttribute("data-window");
      if (w === null || w === undefined) { return; }
      document.querySelectorAll(".frame img").forEach(function (img) {
        var url = img.getAttribute("src").replace(/([?&])window=[^&]*&?/, "$1").replace(/[?&]$/, "");
        if (w) { url += (url.indexOf("?") < 0 ? "?" : "&") + "window=" + encodeURIComponent(w); }
        img.setAttribute("src", url);
      });
    });
  }
})();
