"""``trace-bench report``: tables (:mod:`.report`) and figures (:mod:`.plots`) from a folder of result
files.  Imports the tasks' declarations, the result files' reader and the processing families."""
