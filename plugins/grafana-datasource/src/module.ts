import { DataSourcePlugin } from '@grafana/data';
import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import { FirnOptions, FirnQuery, FirnSecureJsonData } from './types';

export const plugin = new DataSourcePlugin<DataSource, FirnQuery, FirnOptions, FirnSecureJsonData>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
