export { figure, Figure, Trace, Layout, describeFigure, isFigure, PLOTLY_MIME } from "./figure";
