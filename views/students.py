"""The Review desk's Students tab: per student, read-only, how many words they know and are
learning, words known over time, and the N1 words they have met in their stories."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import i18n, store
from core.i18n import _
from core.store import known
from core.store.students import learners


def _known_chart(points: list[dict]) -> go.Figure:
    days = pd.DataFrame(points)
    fig = go.Figure(go.Scatter(x=days["day"], y=days["known"], mode="lines+markers", line_shape="hv"))
    fig.update_layout(yaxis_title=_("words known"), xaxis_title=_("day"), showlegend=False,
                      margin=dict(l=10, r=10, t=30, b=10), height=300)
    fig.update_xaxes(type="date", tickformat="%Y-%m-%d", dtick=86_400_000 if len(days) < 8 else None)
    fig.update_yaxes(rangemode="tozero", tickformat=",d")  # whole words, from none
    return fig


def students_tab(db: store.Database) -> None:
    names = learners(db)
    if not names:
        st.info(_("No student has marked words or kept stories yet."))
        return
    name = st.selectbox(_("Student"), names, key="rev_student")
    counts = known.state_counts(db, name)
    met = store.words_met(db, name, "N1")
    c1, c2, c3 = st.columns(3)
    c1.metric(_("Words known"), i18n.number(counts["known"]))
    c2.metric(_("Learning"), i18n.number(counts["learning"]))
    c3.metric(_("N1 words met"), i18n.number(len(met)))
    points = known.known_over_time(db, name)
    if points:
        st.markdown(_("**Words known over time**"))
        st.plotly_chart(_known_chart(points), key="rev_known_chart")
    else:
        st.caption(_("{name} has not marked any word as known yet.").format(name=name))
    if met:
        st.markdown(_("**N1 words met in their stories**"))
        st.dataframe(pd.DataFrame(met)[["word", "reading", "count", "stories", "first_seen"]], hide_index=True,
                     key="rev_student_met", column_config={
                         "word": _("word"), "reading": _("reading"), "count": _("count"), "stories": _("stories"),
                         "first_seen": st.column_config.DatetimeColumn(_("first seen"), format="YYYY-MM-DD")})
    st.caption(_("Read-only: a student's words and stories are theirs to change."))
