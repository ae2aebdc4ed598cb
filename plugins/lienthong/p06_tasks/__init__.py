"""The p06_tasks dataset: provincial Project 06 task progress workbooks."""
