// New-ticket form: as the customer types the subject, list knowledge-base articles that may
// answer it. Progressive enhancement: the form works without this script, which only fills
// <div data-kb-suggest-url="..." data-kb-suggest-for="id_subject"> with links (built with
// textContent, never HTML). Served from the portal's own static files (CSP script-src 'self').
(function () {
  "use strict";

  var box = document.querySelector("[data-kb-suggest-url]");
  if (!box) {
    return;
  }
  var input = document.getElementById(box.dataset.kbSuggestFor);
  var list = box.querySelector("[data-kb-suggest-list]");
  if (!input || !list) {
    return;
  }
  var timer = null;
  var asked = "";

  function show(articles) {
    list.textContent = "";
    articles.forEach(function (article) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = article.url;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = article.title;
      var category = document.createElement("span");
      category.className = "text-body-secondary small ms-1";
      category.textContent = "(" + article.category + ")";
      item.appendChild(link);
      item.appendChild(category);
      list.appendChild(item);
    });
    box.hidden = articles.length === 0;
  }

  function ask() {
    var subject = input.value.trim();
    if (subject === asked) {
      return;
    }
    asked = subject;
    if (subject.length < 3) {
      show([]);
      return;
    }
    var url = box.dataset.kbSuggestUrl + "?subject=" + encodeURIComponent(subject);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : { articles: [] };
      })
      .then(function (data) {
        if (subject === asked) {
          show(data.articles || []);
        }
      })
      .catch(function () {
        show([]);
      });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, 300);
  });
  ask();
})();
