from PySide6.QtGui import QColor

from app.ui.speed_history import SpeedSample
from app.ui.widgets.speed_graph import DOWN_COLOUR, UP_COLOUR, SpeedGraph, nice_ceiling


def test_the_scale_top_is_a_round_binary_rate():
    assert nice_ceiling(0) == 1024
    assert nice_ceiling(900 * 1024) == 1024**2
    assert nice_ceiling(1024**2) == 1024**2
    assert nice_ceiling(2.5 * 1024**2) == 4 * 1024**2


def _close(a: QColor, b: QColor) -> bool:
    return all(abs(x - y) < 40 for x, y in zip(a.getRgb()[:3], b.getRgb()[:3], strict=True))


def test_draws_down_at_the_top_and_up_at_half_height(qtbot):
    graph = SpeedGraph()
    qtbot.addWidget(graph)
    graph.resize(400, 200)
    top = 1024**2
    graph.set_samples([SpeedSample(0.0, top, top / 2), SpeedSample(300.0, top, top / 2)], 300.0)
    image = graph.grab().toImage()
    x = 250
    plot_top, plot_bottom = 10, 200 - 22
    half = (plot_top + plot_bottom) // 2
    assert any(
        _close(image.pixelColor(x, y), DOWN_COLOUR) for y in range(plot_top - 1, plot_top + 2)
    )
    assert any(_close(image.pixelColor(x, y), UP_COLOUR) for y in range(half - 1, half + 2))
