// Every labeler page: mark that JavaScript runs (so .js-hidden controls hide) and submit the
// language chooser as soon as a language is picked.
document.documentElement.classList.add("js");
document.documentElement.classList.remove("no-js");
for (const select of document.querySelectorAll("select[data-autosubmit]")) {
  select.addEventListener("change", () => select.form.requestSubmit());
}
