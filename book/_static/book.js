/* Attention & Memory: the page's contents button in the article header opens the theme's contents drawer.
 * pydata-sphinx-theme opens the drawer from the first ".secondary-toggle" on the page, the one in its own top bar,
 * which sphinx-book-theme hides; book.css moves the contents into that drawer at every width, so the article
 * header's button (the list icon) passes its click on. */
document.addEventListener("DOMContentLoaded", function () {
  var themeButton = document.querySelector(".secondary-toggle");
  document.querySelectorAll(".bd-header-article .secondary-toggle").forEach(function (button) {
    if (button === themeButton) return;
    button.addEventListener("click", function (event) {
      event.preventDefault();
      themeButton.click();
    });
  });
});
